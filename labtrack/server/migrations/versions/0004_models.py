"""models: the model registry, its tags, and the tasks that made and used each model

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 15:10:00

New tables only; nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('models',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('project_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=1000), nullable=False),
    sa.Column('framework', sa.String(length=100), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('task_id', sa.String(length=32), nullable=True),
    sa.Column('user', sa.String(length=200), nullable=False),
    sa.Column('tags', sa.Text(), nullable=False),
    sa.Column('labels', sa.Text(), nullable=False),
    sa.Column('metadata', sa.Text(), nullable=False),
    sa.Column('uri', sa.Text(), nullable=False),
    sa.Column('filename', sa.Text(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.Column('last_update', sa.Float(), nullable=False),
    sa.Column('published_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_models_project_id_projects')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_models_task_id_tasks'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_models'))
    )
    with op.batch_alter_table('models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_models_created'), ['created'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_framework'), ['framework'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_last_update'), ['last_update'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_project_id_created'), ['project_id', 'created'], unique=False)
        batch_op.create_index(batch_op.f('ix_models_task_id'), ['task_id'], unique=False)

    op.create_table('model_tags',
    sa.Column('model_id', sa.String(length=32), nullable=False),
    sa.Column('tag', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_model_tags_model_id_models'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('model_id', 'tag', name=op.f('pk_model_tags'))
    )
    with op.batch_alter_table('model_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_tags_tag_model_id'), ['tag', 'model_id'], unique=False)

    op.create_table('task_models',
    sa.Column('task_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('model_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['models.id'], name=op.f('fk_task_models_model_id_models'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_models_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'role', 'model_id', name=op.f('pk_task_models'))
    )
    with op.batch_alter_table('task_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_models_model_id_role_created'), ['model_id', 'role', 'created'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_models_model_id_role_created'))
    op.drop_table('task_models')
    with op.batch_alter_table('model_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_tags_tag_model_id'))
    op.drop_table('model_tags')
    with op.batch_alter_table('models', schema=None) as batch_op:
        for name in ('ix_models_task_id', 'ix_models_project_id_created', 'ix_models_name', 'ix_models_last_update',
                     'ix_models_framework', 'ix_models_created'):
            batch_op.drop_index(batch_op.f(name))
    op.drop_table('models')
