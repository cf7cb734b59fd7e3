"""datasets: versions, parents, manifests, content-addressed blobs, task inputs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:41:12.534241

New tables only; nothing existing changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dataset_blobs',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('sha256', name=op.f('pk_dataset_blobs'))
    )
    op.create_table('datasets',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('project_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=1000), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('user', sa.String(length=200), nullable=False),
    sa.Column('file_count', sa.BigInteger(), nullable=False),
    sa.Column('total_size', sa.BigInteger(), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.Column('finalized', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_datasets_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('project_id', 'name', 'version', name=op.f('uq_datasets_project_id_name_version'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_created'), ['created'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasets_project_id_name_state_created'), ['project_id', 'name', 'state', 'created'], unique=False)

    op.create_table('dataset_files',
    sa.Column('dataset_id', sa.String(length=32), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_files_dataset_id_datasets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'path', name=op.f('pk_dataset_files'))
    )
    with op.batch_alter_table('dataset_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_files_dataset_id_sha256'), ['dataset_id', 'sha256'], unique=False)

    op.create_table('dataset_parents',
    sa.Column('dataset_id', sa.String(length=32), nullable=False),
    sa.Column('parent_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_parents_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['parent_id'], ['datasets.id'], name=op.f('fk_dataset_parents_parent_id_datasets')),
    sa.PrimaryKeyConstraint('dataset_id', 'parent_id', name=op.f('pk_dataset_parents'))
    )
    with op.batch_alter_table('dataset_parents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_parents_parent_id'), ['parent_id'], unique=False)

    op.create_table('task_datasets',
    sa.Column('task_id', sa.String(length=32), nullable=False),
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.Column('dataset_id', sa.String(length=32), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_task_datasets_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_task_datasets_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'alias', name=op.f('pk_task_datasets'))
    )
    with op.batch_alter_table('task_datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_datasets_dataset_id'), ['dataset_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_datasets_dataset_id'))

    op.drop_table('task_datasets')
    with op.batch_alter_table('dataset_parents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_parents_parent_id'))

    op.drop_table('dataset_parents')
    with op.batch_alter_table('dataset_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_files_dataset_id_sha256'))

    op.drop_table('dataset_files')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_project_id_name_state_created'))
        batch_op.drop_index(batch_op.f('ix_datasets_created'))

    op.drop_table('datasets')
    op.drop_table('dataset_blobs')
