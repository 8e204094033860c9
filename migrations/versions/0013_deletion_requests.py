"""privacy: people's requests to delete their personal information

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 12:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'deletion_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum('pending', 'completed', 'rejected', name='deletion_state',
                                   native_enum=False, create_constraint=True, length=9),
                  nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handled_by_id', sa.Integer(), nullable=True),
        sa.Column('handled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('note', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_deletion_requests_user_id_users'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'],
                                name=op.f('fk_deletion_requests_handled_by_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_deletion_requests')),
    )
    with op.batch_alter_table('deletion_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deletion_requests_user_id'), ['user_id'],
                              unique=False)
        batch_op.create_index('uq_deletion_requests_pending_user', ['user_id'], unique=True,
                              sqlite_where=sa.text("state = 'pending'"),
                              postgresql_where=sa.text("state = 'pending'"))


def downgrade():
    op.drop_table('deletion_requests')
