"""booking changes, on-behalf bookings, waiting list, no-show suspensions

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('labs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('no_show_limit', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('no_show_window_days', sa.Integer(), server_default='30',
                                      nullable=False))
        batch_op.add_column(sa.Column('suspension_days', sa.Integer(), server_default='14',
                                      nullable=False))
        batch_op.add_column(sa.Column('waitlist_offer_minutes', sa.Integer(),
                                      server_default='30', nullable=False))
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('colleagues_may_book_for_each_other', sa.Boolean(),
                                      server_default=sa.false(), nullable=False))
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booked_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_bookings_booked_by_id_users'), 'users',
                                    ['booked_by_id'], ['id'])

    op.create_table('booking_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('old_start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('old_end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('new_start_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('new_end_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('pending', 'applied', 'rejected', 'withdrawn', name='booking_change_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('is_override', sa.Boolean(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('given_back_minutes', sa.Integer(), nullable=False),
    sa.Column('is_late', sa.Boolean(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.CheckConstraint('new_end_at > new_start_at', name=op.f('ck_booking_changes_new_end_after_start')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_booking_changes_booking_id_bookings'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_booking_changes_decided_by_id_users')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_booking_changes_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_changes'))
    )
    with op.batch_alter_table('booking_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_changes_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index('ix_booking_changes_state_requested', ['state', 'requested_at'], unique=False)
        batch_op.create_index('uq_booking_changes_pending', ['booking_id'], unique=True,
                              sqlite_where=sa.text("state = 'pending'"),
                              postgresql_where=sa.text("state = 'pending'"))

    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.add_column(sa.Column('booking_change_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_charges_booking_change_id_booking_changes'),
                                    'booking_changes', ['booking_change_id'], ['id'])
        batch_op.create_unique_constraint(batch_op.f('uq_charges_booking_change_id'),
                                          ['booking_change_id'])

    op.create_table('waitlist_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instrument_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('minutes', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=500), nullable=False),
    sa.Column('state', sa.Enum('waiting', 'offered', 'claimed', 'lapsed', 'left', 'expired', name='waitlist_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('offer_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('offer_token', sa.String(length=64), nullable=True),
    sa.Column('booking_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('minutes > 0', name=op.f('ck_waitlist_entries_minutes_positive')),
    sa.CheckConstraint('window_end > window_start', name=op.f('ck_waitlist_entries_window_end_after_start')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_waitlist_entries_booking_id_bookings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_waitlist_entries_instrument_id_instruments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_waitlist_entries_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    sa.UniqueConstraint('offer_token', name=op.f('uq_waitlist_entries_offer_token'))
    )
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.create_index('ix_waitlist_entries_instrument_state', ['instrument_id', 'state', 'window_end'], unique=False)
        batch_op.create_index('ix_waitlist_entries_state_offer_expires', ['state', 'offer_expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_waitlist_entries_user_id'), ['user_id'], unique=False)

    op.create_table('booking_suspensions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lab_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('no_shows', sa.Integer(), nullable=False),
    sa.Column('window_days', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_note', sa.Text(), nullable=False),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_booking_suspensions_ends_after_start')),
    sa.ForeignKeyConstraint(['lab_id'], ['labs.id'], name=op.f('fk_booking_suspensions_lab_id_labs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['users.id'], name=op.f('fk_booking_suspensions_lifted_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_booking_suspensions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_suspensions'))
    )
    with op.batch_alter_table('booking_suspensions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_suspensions_lab_id'), ['lab_id'], unique=False)
        batch_op.create_index('ix_booking_suspensions_user_lab_ends', ['user_id', 'lab_id', 'ends_at'], unique=False)


def downgrade():
    op.drop_table('booking_suspensions')
    op.drop_table('waitlist_entries')
    with op.batch_alter_table('charges', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_charges_booking_change_id'), type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_charges_booking_change_id_booking_changes'),
                                 type_='foreignkey')
        batch_op.drop_column('booking_change_id')
    op.drop_table('booking_changes')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bookings_booked_by_id_users'), type_='foreignkey')
        batch_op.drop_column('booked_by_id')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('colleagues_may_book_for_each_other')
    with op.batch_alter_table('labs', schema=None) as batch_op:
        batch_op.drop_column('waitlist_offer_minutes')
        batch_op.drop_column('suspension_days')
        batch_op.drop_column('no_show_window_days')
        batch_op.drop_column('no_show_limit')
