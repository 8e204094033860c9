"""labs: the contact person for bookings and training (name, phone, email)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('labs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_name', sa.String(length=100), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=40), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('contact_email', sa.String(length=254), server_default='',
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('labs', schema=None) as batch_op:
        batch_op.drop_column('contact_email')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_name')
