"""catalogue_version: one row whose token changes with every catalogue change, so that each
server process knows when to rebuild its search index

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 11:00:00.000000

"""
import uuid

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table(
        'catalogue_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_catalogue_version')),
    )
    op.bulk_insert(table, [{'id': 1, 'token': uuid.uuid4().hex}])


def downgrade():
    op.drop_table('catalogue_version')
