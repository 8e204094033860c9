"""waitlist entries: how many of an instrument's channels the wish is for

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-08 03:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channels', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.create_check_constraint(op.f('ck_waitlist_entries_channels_positive'),
                                         'channels > 0')


def downgrade():
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_waitlist_entries_channels_positive'), type_='check')
        batch_op.drop_column('channels')
