"""key roles: api_keys.role (admin | member)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 14:20:00

Keys made before roles existed could do everything, so they become `admin`: an upgraded server
locks nobody out of managing keys. New rows always name their role (no server default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=20), nullable=False, server_default='admin'))
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.alter_column('role', existing_type=sa.String(length=20), existing_nullable=False, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_column('role')
