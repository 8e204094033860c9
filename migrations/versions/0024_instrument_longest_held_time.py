"""instruments: the longest time one of its bookings holds, which bounds every calendar read

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-05 14:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

EXCLUSION = 'ex_bookings_no_overlap'
SLOT_HOLDING = "('pending', 'approved', 'in_use')"
# Held minutes rounded up. SQLite counts whole seconds, which may be one short of the fraction;
# the readers allow a minute more than the column says for that.
SQLITE_HELD = ("((CAST(strftime('%s', NEW.blocked_until) AS INTEGER)"
               " - CAST(strftime('%s', NEW.start_at) AS INTEGER) + 59) / 60)")
# Bookings whose held time could meet NEW's: the others' held time is at most the instrument's
# longest, so they end before NEW's held time ends plus that (and a minute for rounding). The
# bound lets the overlap check seek the (instrument, state, blocked_until) index on both sides.
SQLITE_CLASH = f"""
    SELECT RAISE(ABORT, '{EXCLUSION}: a channel is already held at that time')
    WHERE EXISTS (SELECT 1 FROM bookings AS other
                  WHERE other.instrument_id = NEW.instrument_id
                    AND other.state IN {SLOT_HOLDING}
                    AND other.blocked_until > NEW.start_at
                    AND other.blocked_until < datetime(NEW.blocked_until, '+' || (
                        (SELECT longest_held_minutes FROM instruments
                         WHERE id = NEW.instrument_id) + 1) || ' minutes')
                    AND other.start_at < NEW.blocked_until
                    AND (other.channel_mask & NEW.channel_mask) != 0
                    AND other.id IS NOT NEW.id);
"""
UNBOUNDED_SQLITE_CLASH = f"""
    SELECT RAISE(ABORT, '{EXCLUSION}: a channel is already held at that time')
    WHERE EXISTS (SELECT 1 FROM bookings AS other
                  WHERE other.instrument_id = NEW.instrument_id
                    AND other.state IN {SLOT_HOLDING}
                    AND other.blocked_until > NEW.start_at
                    AND other.start_at < NEW.blocked_until
                    AND (other.channel_mask & NEW.channel_mask) != 0
                    AND other.id IS NOT NEW.id);
"""
SQLITE_RAISE_LONGEST = f"""
    UPDATE instruments SET longest_held_minutes = {SQLITE_HELD}
    WHERE id = NEW.instrument_id AND longest_held_minutes < {SQLITE_HELD};
"""
SQLITE_RAISE_FROM_RULES = """
    UPDATE instruments SET longest_held_minutes = NEW.max_minutes + NEW.buffer_minutes
    WHERE id = NEW.id AND longest_held_minutes < NEW.max_minutes + NEW.buffer_minutes;
"""


def _create_sqlite_overlap_triggers(clash):
    op.execute(f"""
        CREATE TRIGGER tr_bookings_no_overlap_insert BEFORE INSERT ON bookings
        WHEN NEW.state IN {SLOT_HOLDING}
        BEGIN {clash} END
    """)
    op.execute(f"""
        CREATE TRIGGER tr_bookings_no_overlap_update
        BEFORE UPDATE OF instrument_id, state, start_at, blocked_until, channel_mask
        ON bookings WHEN NEW.state IN {SLOT_HOLDING}
        BEGIN {clash} END
    """)


def _drop_sqlite_overlap_triggers():
    op.execute('DROP TRIGGER tr_bookings_no_overlap_update')
    op.execute('DROP TRIGGER tr_bookings_no_overlap_insert')


def upgrade():
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('longest_held_minutes', sa.Integer(), server_default='0',
                                      nullable=False))
    # What the rules let a booking hold now, or what an existing booking holds, if longer.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("""
            UPDATE instruments SET longest_held_minutes = greatest(
                max_minutes + buffer_minutes,
                coalesce((SELECT ceil(max(extract(epoch FROM blocked_until - start_at)) / 60)
                          FROM bookings WHERE bookings.instrument_id = instruments.id), 0))
        """)
        # Every booking written (a rule-checked one, an import, a move) raises its instrument's
        # longest held time when it holds longer, and so does an instrument allowed longer
        # bookings or a longer buffer: the bound can never be too short, only too long.
        op.execute("""
            CREATE FUNCTION labbook_raise_longest_held() RETURNS trigger LANGUAGE plpgsql AS $$
            DECLARE held integer := ceil(extract(epoch FROM NEW.blocked_until - NEW.start_at)
                                         / 60);
            BEGIN
                UPDATE instruments SET longest_held_minutes = held
                WHERE id = NEW.instrument_id AND longest_held_minutes < held;
                RETURN NULL;
            END $$
        """)
        op.execute("""
            CREATE TRIGGER tr_bookings_raise_longest_held
            AFTER INSERT OR UPDATE OF instrument_id, start_at, blocked_until ON bookings
            FOR EACH ROW EXECUTE FUNCTION labbook_raise_longest_held()
        """)
        op.execute("""
            CREATE FUNCTION labbook_longest_held_from_rules() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                NEW.longest_held_minutes := greatest(NEW.longest_held_minutes,
                                                     NEW.max_minutes + NEW.buffer_minutes);
                RETURN NEW;
            END $$
        """)
        op.execute("""
            CREATE TRIGGER tr_instruments_longest_held
            BEFORE INSERT OR UPDATE ON instruments
            FOR EACH ROW EXECUTE FUNCTION labbook_longest_held_from_rules()
        """)
        return
    op.execute("""
        UPDATE instruments SET longest_held_minutes = max(
            max_minutes + buffer_minutes,
            coalesce((SELECT max((CAST(strftime('%s', blocked_until) AS INTEGER)
                                  - CAST(strftime('%s', start_at) AS INTEGER) + 59) / 60)
                      FROM bookings WHERE bookings.instrument_id = instruments.id), 0))
    """)
    op.execute(f"""
        CREATE TRIGGER tr_bookings_raise_longest_held_insert AFTER INSERT ON bookings
        BEGIN {SQLITE_RAISE_LONGEST} END
    """)
    op.execute(f"""
        CREATE TRIGGER tr_bookings_raise_longest_held_update
        AFTER UPDATE OF instrument_id, start_at, blocked_until ON bookings
        BEGIN {SQLITE_RAISE_LONGEST} END
    """)
    op.execute(f"""
        CREATE TRIGGER tr_instruments_longest_held_insert AFTER INSERT ON instruments
        BEGIN {SQLITE_RAISE_FROM_RULES} END
    """)
    op.execute(f"""
        CREATE TRIGGER tr_instruments_longest_held_update
        AFTER UPDATE OF max_minutes, buffer_minutes ON instruments
        BEGIN {SQLITE_RAISE_FROM_RULES} END
    """)
    _drop_sqlite_overlap_triggers()
    _create_sqlite_overlap_triggers(SQLITE_CLASH)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER tr_instruments_longest_held ON instruments')
        op.execute('DROP FUNCTION labbook_longest_held_from_rules()')
        op.execute('DROP TRIGGER tr_bookings_raise_longest_held ON bookings')
        op.execute('DROP FUNCTION labbook_raise_longest_held()')
    else:
        _drop_sqlite_overlap_triggers()
        _create_sqlite_overlap_triggers(UNBOUNDED_SQLITE_CLASH)
        for trigger in ('tr_instruments_longest_held_update', 'tr_instruments_longest_held_insert',
                        'tr_bookings_raise_longest_held_update',
                        'tr_bookings_raise_longest_held_insert'):
            op.execute(f'DROP TRIGGER {trigger}')
    with op.batch_alter_table('instruments', schema=None) as batch_op:
        batch_op.drop_column('longest_held_minutes')
