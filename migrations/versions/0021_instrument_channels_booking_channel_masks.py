"""channels: an instrument's channels or places, and the ones each booking holds

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 11:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

EXCLUSION = 'ex_bookings_no_overlap'
SLOT_HOLDING = "('pending', 'approved', 'in_use')"
# Two slot-holding bookings of one instrument whose held time overlaps must hold no channel in
# common. A booking holds channel n when bit n - 1 of its channel mask is set, so a
# single-channel instrument's bookings (mask 1) may not overlap at all, as before. The mask is a
# signed 64-bit integer: channel 64 is its sign bit.
SQLITE_CLASH = f"""
    SELECT RAISE(ABORT, '{EXCLUSION}: a channel is already held at that time')
    WHERE EXISTS (SELECT 1 FROM bookings AS other
                  WHERE other.instrument_id = NEW.instrument_id
                    AND other.state IN {SLOT_HOLDING}
                    AND other.blocked_until > NEW.start_at
                    AND other.start_at < NEW.blocked_until
                    AND (other.channel_mask & NEW.channel_mask) != 0
                    AND other.id IS NOT NEW.id);
"""


def upgrade():
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channels', sa.Integer(), server_default='1',
                                      nullable=False))
        batch_op.create_check_constraint('channels_range', 'channels BETWEEN 1 AND 64')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel_mask', sa.BigInteger(), server_default='1',
                                      nullable=False))
        batch_op.create_check_constraint('channel_mask_not_empty', 'channel_mask <> 0')
    if op.get_bind().dialect.name == 'postgresql':
        # The database refuses a booking that would share a channel, at the same time, with
        # another: the exclusion constraint compares the channel sets (intarray's GiST
        # operator class) besides the instrument and the held time.
        op.execute('CREATE EXTENSION IF NOT EXISTS intarray')
        op.execute("""
            CREATE FUNCTION labbook_channel_set(mask bigint) RETURNS int[]
            IMMUTABLE PARALLEL SAFE LANGUAGE sql AS $$
                SELECT coalesce(array_agg(n ORDER BY n), '{}')
                FROM generate_series(1, 64) AS n WHERE (mask >> (n - 1)) & 1 = 1
            $$
        """)
        op.execute(f'ALTER TABLE bookings DROP CONSTRAINT {EXCLUSION}')
        op.execute(f"""
            ALTER TABLE bookings ADD CONSTRAINT {EXCLUSION}
            EXCLUDE USING gist (
                instrument_id WITH =,
                (labbook_channel_set(channel_mask)) gist__int_ops WITH &&,
                tstzrange(start_at, blocked_until, '[)') WITH &&
            ) WHERE (state IN {SLOT_HOLDING})
        """)
    else:
        # SQLite has no exclusion constraints: triggers refuse the same rows instead.
        op.execute(f"""
            CREATE TRIGGER tr_bookings_no_overlap_insert BEFORE INSERT ON bookings
            WHEN NEW.state IN {SLOT_HOLDING}
            BEGIN {SQLITE_CLASH} END
        """)
        op.execute(f"""
            CREATE TRIGGER tr_bookings_no_overlap_update
            BEFORE UPDATE OF instrument_id, state, start_at, blocked_until, channel_mask
            ON bookings WHEN NEW.state IN {SLOT_HOLDING}
            BEGIN {SQLITE_CLASH} END
        """)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE bookings DROP CONSTRAINT {EXCLUSION}')
        op.execute(f"""
            ALTER TABLE bookings ADD CONSTRAINT {EXCLUSION}
            EXCLUDE USING gist (
                instrument_id WITH =,
                tstzrange(start_at, blocked_until, '[)') WITH &&
            ) WHERE (state IN {SLOT_HOLDING})
        """)
        op.execute('DROP FUNCTION labbook_channel_set(bigint)')
    else:
        op.execute('DROP TRIGGER tr_bookings_no_overlap_update')
        op.execute('DROP TRIGGER tr_bookings_no_overlap_insert')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint('channel_mask_not_empty', type_='check')
        batch_op.drop_column('channel_mask')
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.drop_constraint('channels_range', type_='check')
        batch_op.drop_column('channels')
