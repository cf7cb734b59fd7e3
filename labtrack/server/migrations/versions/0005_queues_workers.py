"""queues and workers: queues with their entries, agents' worker records, task.queue/task.worker

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 17:45:00

New tables, two nullable task columns, and the `default` queue (the server re-creates it on start
if someone removed it from the database by hand).
"""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    queues = op.create_table('queues',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queues')),
    sa.UniqueConstraint('name', name=op.f('uq_queues_name'))
    )
    op.create_table('workers',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('user', sa.String(length=200), nullable=False),
    sa.Column('registered', sa.Float(), nullable=False),
    sa.Column('last_heartbeat', sa.Float(), nullable=False),
    sa.Column('current_task', sa.String(length=32), nullable=True),
    sa.Column('resources', sa.Text(), nullable=False),
    sa.Column('usage', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workers'))
    )
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_workers_status_last_heartbeat'), ['status', 'last_heartbeat'], unique=False)
        batch_op.create_index('ux_workers_active_name', ['name'], unique=True, sqlite_where=sa.text("status = 'active'"),
                              postgresql_where=sa.text("status = 'active'"))

    op.create_table('worker_queues',
    sa.Column('worker_id', sa.String(length=32), nullable=False),
    sa.Column('queue_id', sa.String(length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_worker_queues_queue_id_queues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['workers.id'], name=op.f('fk_worker_queues_worker_id_workers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('worker_id', 'queue_id', name=op.f('pk_worker_queues'))
    )
    with op.batch_alter_table('worker_queues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_worker_queues_queue_id'), ['queue_id'], unique=False)

    op.create_table('queue_entries',
    sa.Column('task_id', sa.String(length=32), nullable=False),
    sa.Column('queue_id', sa.String(length=32), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('rank', sa.BigInteger(), nullable=False),
    sa.Column('enqueued', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_queue_entries_queue_id_queues'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_queue_entries_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', name=op.f('pk_queue_entries'))
    )
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queue_entries_queue_id_priority_rank'), ['queue_id', 'priority', 'rank'], unique=False)

    # Two nullable columns: ALTER TABLE ADD COLUMN on both databases (batch mode copies nothing).
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('worker', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_tasks_queue'), ['queue'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_worker_status'), ['worker', 'status'], unique=False)

    # Tasks queued before queues existed wait in `default`, oldest first, so nothing queued is stranded.
    default_id = uuid.uuid4().hex
    op.bulk_insert(queues, [{'id': default_id, 'name': 'default', 'description': 'The queue a task goes to when '
                             'none is named.', 'created': time.time()}])
    op.execute(sa.text(
        "INSERT INTO queue_entries (task_id, queue_id, priority, rank, enqueued) "
        "SELECT id, :queue, 0, ROW_NUMBER() OVER (ORDER BY last_update, id), last_update FROM tasks "
        "WHERE status = 'queued'").bindparams(queue=default_id))
    op.execute(sa.text("UPDATE tasks SET queue = :queue WHERE status = 'queued'").bindparams(queue=default_id))


def downgrade() -> None:
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_worker_status'))
        batch_op.drop_index(batch_op.f('ix_tasks_queue'))
        batch_op.drop_column('worker')
        batch_op.drop_column('queue')
    with op.batch_alter_table('queue_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queue_entries_queue_id_priority_rank'))
    op.drop_table('queue_entries')
    with op.batch_alter_table('worker_queues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_worker_queues_queue_id'))
    op.drop_table('worker_queues')
    with op.batch_alter_table('workers', schema=None) as batch_op:
        batch_op.drop_index('ux_workers_active_name')
        batch_op.drop_index(batch_op.f('ix_workers_status_last_heartbeat'))
    op.drop_table('workers')
    op.drop_table('queues')
