"""owner units, their revenue-sharing agreements and contact persons; the instrument log of
faults, breakdowns and maintenance

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('owners',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name_zh', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('institute', 'university', 'enterprise', name='owner_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.String(length=300), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owners')),
    sa.UniqueConstraint('code', name=op.f('uq_owners_code'))
    )
    op.create_table('owner_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('time_share_percent', sa.Integer(), nullable=False),
    sa.Column('testing_share_percent', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('testing_share_percent BETWEEN 0 AND 100', name=op.f('ck_owner_agreements_testing_share_range')),
    sa.CheckConstraint('time_share_percent BETWEEN 0 AND 100', name=op.f('ck_owner_agreements_time_share_range')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_owner_agreements_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['owners.id'], name=op.f('fk_owner_agreements_owner_id_owners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_agreements')),
    sa.UniqueConstraint('owner_id', 'effective_from', name=op.f('uq_owner_agreements_owner_id_effective_from'))
    )
    with op.batch_alter_table('owner_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_agreements_owner_id'), ['owner_id'], unique=False)

    op.create_table('owner_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['owners.id'], name=op.f('fk_owner_contacts_owner_id_owners'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_owner_contacts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_owner_contacts')),
    sa.UniqueConstraint('owner_id', 'user_id', name=op.f('uq_owner_contacts_owner_id_user_id'))
    )
    with op.batch_alter_table('owner_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_owner_contacts_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_owner_contacts_user_id'), ['user_id'], unique=False)

    op.create_table('instrument_faults',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('problem', 'breakdown', 'maintenance', name='fault_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('state', sa.Enum('open', 'closed', name='fault_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('reported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('down_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('down_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cause', sa.Text(), nullable=False),
    sa.Column('fix', sa.Text(), nullable=False),
    sa.Column('answer', sa.String(length=2000), nullable=False),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('down_until IS NULL OR down_from IS NOT NULL', name=op.f('ck_instrument_faults_down_until_needs_down_from')),
    sa.CheckConstraint('down_until IS NULL OR down_until > down_from', name=op.f('ck_instrument_faults_down_until_after_down_from')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['users.id'], name=op.f('fk_instrument_faults_answered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_instrument_faults_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_instrument_faults_closed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_instrument_faults_instrument_id_instruments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_instrument_faults_reported_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instrument_faults'))
    )
    with op.batch_alter_table('instrument_faults', schema=None) as batch_op:
        batch_op.create_index('ix_instrument_faults_instrument_down_from', ['instrument_id', 'down_from'], unique=False)
        batch_op.create_index('ix_instrument_faults_state_reported_at', ['state', 'reported_at'], unique=False)

    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_instruments_owner_id'), ['owner_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_instruments_owner_id_owners'), 'owners', ['owner_id'], ['id'])



def downgrade():
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_instruments_owner_id_owners'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_instruments_owner_id'))
        batch_op.drop_column('owner_id')

    with op.batch_alter_table('instrument_faults', schema=None) as batch_op:
        batch_op.drop_index('ix_instrument_faults_state_reported_at')
        batch_op.drop_index('ix_instrument_faults_instrument_down_from')

    op.drop_table('instrument_faults')
    with op.batch_alter_table('owner_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_owner_contacts_user_id'))
        batch_op.drop_index(batch_op.f('ix_owner_contacts_owner_id'))

    op.drop_table('owner_contacts')
    with op.batch_alter_table('owner_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_owner_agreements_owner_id'))

    op.drop_table('owner_agreements')
    op.drop_table('owners')
