"""login sessions that signing out deletes; one unrevoked qualification per user and instrument

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

UNREVOKED = sa.text('revoked_at IS NULL')


def upgrade():
    op.create_table('login_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_login_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_sessions')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_login_sessions_secret_hash'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_user_id'), ['user_id'], unique=False)

    # Two grants that raced may have left two records in force: the newer one stays, the older
    # ones end when it was granted.
    op.execute("""
        UPDATE qualifications SET revoked_at = (
            SELECT max(newer.granted_at) FROM qualifications AS newer
            WHERE newer.user_id = qualifications.user_id
              AND newer.instrument_id = qualifications.instrument_id
              AND newer.revoked_at IS NULL)
        WHERE revoked_at IS NULL AND id < (
            SELECT max(newest.id) FROM qualifications AS newest
            WHERE newest.user_id = qualifications.user_id
              AND newest.instrument_id = qualifications.instrument_id
              AND newest.revoked_at IS NULL)
    """)
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.create_index('uq_qualifications_unrevoked', ['user_id', 'instrument_id'],
                              unique=True, sqlite_where=UNREVOKED, postgresql_where=UNREVOKED)


def downgrade():
    with op.batch_alter_table('qualifications', schema=None) as batch_op:
        batch_op.drop_index('uq_qualifications_unrevoked')

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_user_id'))

    op.drop_table('login_sessions')
