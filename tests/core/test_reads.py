"""Rows read through the driver's cursor are the rows SQLAlchemy's execution reads, and the
reading keeps what matters of that execution: the types' processing both ways, the cursor
events, the transaction begun, driver errors raised as SQLAlchemy's."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import (
    Engine,
    Numeric,
    bindparam,
    cast,
    create_engine,
    event,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from labbook.accounts.models import Organization
from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge, ChargeKind
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Instrument, Lab
from labbook.core.reads import _compiled_for, fetch, run
from labbook.core.rows import columns_of
from labbook.extensions import db
from tests.factories import create_booking, create_charge, create_instrument, create_user
from tests.postgresql import skip_unless_postgresql
from tests.server_sessions import end_sessions

UTC_NOON = dt.datetime(2026, 3, 2, 4, 0, tzinfo=dt.UTC)

_BOOKING = Booking.__table__.c
_INSTRUMENT = Instrument.__table__.c


def both_ways(statement, parameters):
    """What ``fetch`` reads and what ``Connection.execute`` reads, of the same statement."""
    connection = db.session.connection()
    return fetch(connection, statement, parameters), connection.execute(
        statement, parameters).all()


def test_the_rows_and_their_values_are_those_sqlalchemy_reads():
    booking = create_booking(start_at=UTC_NOON, end_at=UTC_NOON + dt.timedelta(hours=2),
                             purpose="XRD 物相分析")
    statement = select(*columns_of(Booking)).where(_BOOKING.id == bindparam("id"))
    fetched, executed = both_ways(statement, {"id": booking.id})
    assert fetched == [tuple(row) for row in executed] and len(fetched) == 1
    [row] = fetched
    # Aware UTC times, the state as its enum, the text as written: as the types read them.
    assert row.start_at == UTC_NOON and row.start_at.tzinfo is dt.UTC
    assert row.state is BookingState.APPROVED and row.purpose == "XRD 物相分析"
    assert row._fields == tuple(executed[0]._fields)


def test_money_flags_and_nulls_are_read_as_their_types_read_them():
    charge = create_charge(amount=Decimal("12345.67"))
    statement = select(*columns_of(Charge)).where(Charge.__table__.c.id == bindparam("id"))
    fetched, executed = both_ways(statement, {"id": charge.id})
    assert fetched == [tuple(row) for row in executed]
    [row] = fetched
    assert row.amount == Decimal("12345.67") and isinstance(row.amount, Decimal)
    assert row.unit_price is None and row.kind is ChargeKind.ADJUSTMENT
    organization = select(*columns_of(Organization)).where(
        Organization.__table__.c.id == bindparam("id"))
    fetched, executed = both_ways(organization, {"id": charge.organization_id})
    assert fetched == [tuple(row) for row in executed]
    assert fetched[0].colleagues_may_book_for_each_other is False


def test_times_and_enums_are_bound_as_their_types_bind_them():
    instrument = create_instrument()
    inside = create_booking(instrument=instrument, start_at=UTC_NOON,
                            end_at=UTC_NOON + dt.timedelta(hours=1))
    create_booking(instrument=instrument, start_at=UTC_NOON + dt.timedelta(days=1),
                   end_at=UTC_NOON + dt.timedelta(days=1, hours=1))
    # A time given in another zone is the same moment; a state compared with a constant
    # (bound by the statement itself) is bound too.
    statement = select(_BOOKING.id).where(
        _BOOKING.instrument_id == bindparam("instrument_id"),
        _BOOKING.start_at >= bindparam("start"), _BOOKING.start_at < bindparam("end"),
        _BOOKING.state == BookingState.APPROVED)
    shanghai = dt.timezone(dt.timedelta(hours=8))
    fetched = fetch(db.session.connection(), statement, {
        "instrument_id": instrument.id, "start": UTC_NOON.astimezone(shanghai),
        "end": UTC_NOON + dt.timedelta(hours=23, minutes=59)})
    assert [row.id for row in fetched] == [inside.id]


def test_a_naive_time_is_refused_not_guessed_at():
    statement = select(_BOOKING.id).where(_BOOKING.start_at < bindparam("end"))
    with pytest.raises(ValueError, match="naive"):
        fetch(db.session.connection(), statement, {"end": UTC_NOON.replace(tzinfo=None)})


def test_a_parameter_used_twice_and_a_union_read_every_part():
    instrument = create_instrument()
    booking = create_booking(instrument=instrument, start_at=UTC_NOON,
                             end_at=UTC_NOON + dt.timedelta(hours=1))
    statement = union_all(
        select(_INSTRUMENT.id.label("id"), _INSTRUMENT.code.label("what"))
        .where(_INSTRUMENT.id == bindparam("instrument_id")),
        select(_BOOKING.id, _BOOKING.purpose)
        .where(_BOOKING.instrument_id == bindparam("instrument_id")))
    fetched, executed = both_ways(statement, {"instrument_id": instrument.id})
    assert sorted(fetched, key=lambda row: row.id) == sorted(
        (tuple(row) for row in executed), key=lambda row: row[0])
    assert {row.id for row in fetched} == {instrument.id, booking.id}
    assert {row.what for row in fetched} == {instrument.code, booking.purpose}


def test_listeners_of_the_cursor_events_see_the_statement_and_its_parameters():
    instrument = create_instrument()
    statement = select(_INSTRUMENT.code).where(_INSTRUMENT.id == bindparam("instrument_id"))
    seen: list[tuple] = []

    def before(*arguments) -> None:
        seen.append(("before", *arguments))

    def after(*arguments) -> None:
        seen.append(("after", *arguments))

    connection = db.session.connection()
    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        fetch(connection, statement, {"instrument_id": instrument.id})
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    assert [call[0] for call in seen] == ["before", "after"]
    for _when, on, cursor, sql, parameters, context, executemany in seen:
        # As SQLAlchemy calls them for one statement run once, without its execution context.
        assert on is connection and cursor is not None and context is None
        assert executemany is False
        assert sql.startswith("SELECT instruments.code")
        assert list(parameters.values() if isinstance(parameters, dict) else parameters) == [
            instrument.id]


def test_a_connection_without_a_transaction_begins_one_as_execute_would():
    create_instrument()
    db.session.commit()
    with db.engine.connect() as connection:
        begun: list[object] = []
        event.listen(connection, "begin", begun.append)
        assert not connection.in_transaction()
        assert fetch(connection, select(Lab.__table__.c.code), {})
        assert connection.in_transaction() and begun == [connection]


def test_a_driver_error_is_raised_as_sqlalchemys_and_the_connection_goes_on():
    connection = db.session.connection()
    statement = select(text("no_such_column")).select_from(Lab.__table__).where(
        Lab.__table__.c.id == bindparam("id"))
    with pytest.raises(DBAPIError) as raised:
        fetch(connection, statement, {"id": 7})
    # Saying which statement failed, with which parameters, as SQLAlchemy's errors say.
    assert "no_such_column" in raised.value.statement
    assert list(raised.value.params.values() if isinstance(raised.value.params, dict)
                else raised.value.params) == [7]
    db.session.rollback()
    assert fetch(db.session.connection(), select(Lab.__table__.c.id), {}) == []


@pytest.mark.parametrize("parameter", [
    bindparam("ids", expanding=True), bindparam("id", literal_execute=True),
    bindparam("instrument id")], ids=["a list", "written into the text", "an odd name"])
def test_a_parameter_not_bound_as_itself_is_refused(parameter):
    statement = select(_INSTRUMENT.id).where(
        _INSTRUMENT.id.in_(parameter) if parameter.expanding else _INSTRUMENT.id == parameter)
    with pytest.raises(ValueError, match=r"^fetch takes statements whose parameters are bound"):
        fetch(db.session.connection(), statement, {parameter.key: [1, 2]})


def test_a_statement_is_compiled_once_for_each_dialect():
    statement = select(_INSTRUMENT.id).where(_INSTRUMENT.id == bindparam("id"))
    sqlite, server = db.engine.dialect, postgresql.psycopg.dialect()
    assert _compiled_for(statement, sqlite) is _compiled_for(statement, sqlite)
    assert _compiled_for(statement, server) is not _compiled_for(statement, sqlite)


def test_for_a_driver_that_binds_by_name_the_parameters_go_by_name():
    # PostgreSQL's psycopg binds %(name)s: each value processed by its type, once, with the
    # constants the statement compares with. Compiled only: no server needed.
    statement = select(_BOOKING.id).where(
        _BOOKING.start_at >= bindparam("start"), _BOOKING.blocked_until > bindparam("start"),
        _BOOKING.state == BookingState.APPROVED)
    compiled = _compiled_for(statement, postgresql.psycopg.dialect())
    shanghai = dt.timezone(dt.timedelta(hours=8))
    arguments = compiled.arguments({"start": UTC_NOON.astimezone(shanghai)})
    assert isinstance(arguments, dict) and len(arguments) == 2
    assert arguments["start"] == UTC_NOON and arguments["start"].utcoffset() == dt.timedelta(0)
    assert BookingState.APPROVED in arguments.values()


def test_a_result_column_is_read_as_the_type_the_driver_says_it_has():
    # PostgreSQL's numbers come as Decimal or as float by the column's type on the server:
    # only a float needs making into a Decimal, and the description says which.
    compiled = _compiled_for(select(cast(bindparam("n"), Numeric(10, 2))),
                             postgresql.psycopg.dialect())
    float8, numeric = 701, 1700
    [as_float] = compiled.result_processors([("n", float8, None, None, None, None, None)])
    assert as_float(1.5) == Decimal("1.50")
    compiled.results = None
    assert compiled.result_processors([("n", numeric, None, None, None, None, None)]) == (None,)


@pytest.fixture
def server_engine(database_url: str) -> Engine:
    skip_unless_postgresql("a PostgreSQL server's connections")
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def test_a_connection_the_server_ended_is_invalidated_as_sqlalchemy_invalidates_it(
        server_engine):
    with server_engine.connect() as connection:
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        end_sessions(server_engine, [pid])
        with pytest.raises(DBAPIError) as raised:
            fetch(connection, select(text("1")), {})
        assert raised.value.connection_invalidated and connection.invalidated


_EVENT = AuditEvent.__table__


def test_an_insert_returns_what_it_asks_for_and_writes_every_value_as_its_type_writes_it():
    actor = create_user()
    shanghai = dt.timezone(dt.timedelta(hours=8))
    values = {"actor_id": actor.id, "object_type": "bookings", "object_id": 42,
              "action": "create", "from_state": None, "to_state": "approved", "note": "",
              "details": {"overridden": ["too_soon"], "说明": "加急"},
              "at": UTC_NOON.astimezone(shanghai)}
    [(event_id, at)] = fetch(db.session.connection(),
                             _EVENT.insert().returning(_EVENT.c.id, _EVENT.c.at), values)
    assert at == UTC_NOON and at.tzinfo is dt.UTC
    written = db.session.connection().execute(
        select(_EVENT).where(_EVENT.c.id == event_id)).one()
    assert written.details == {"overridden": ["too_soon"], "说明": "加急"}
    assert written.at == UTC_NOON and written.to_state == "approved" and written.from_state is None


def test_an_insert_that_returns_nothing_is_run_and_its_cursor_events_seen():
    statements: list[str] = []

    def note(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    values = {"actor_id": None, "object_type": "labs", "object_id": 7, "action": "update",
              "from_state": None, "to_state": None, "note": "改名", "details": {},
              "at": UTC_NOON}
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        run(db.session.connection(), _EVENT.insert(), values)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert [statement.split(" (")[0] for statement in statements] == [
        "INSERT INTO audit_events"]
    assert db.session.connection().execute(select(_EVENT.c.note).where(
        _EVENT.c.object_type == "labs", _EVENT.c.object_id == 7)).scalar_one() == "改名"


def test_an_insert_is_compiled_for_the_columns_it_is_given():
    statement = _EVENT.insert()
    common = {"object_type": "labs", "object_id": 7, "action": "update", "note": "",
              "details": {}, "at": UTC_NOON}
    with_actor = _compiled_for(statement, db.engine.dialect, {**common, "actor_id": None})
    without = _compiled_for(statement, db.engine.dialect, common)
    assert with_actor is not without and "actor_id" not in without.sql
    assert _compiled_for(statement, db.engine.dialect, common) is without


def test_an_insert_leaving_a_column_to_a_python_default_is_refused():
    # ``at`` defaults to the time of the insert, worked out by SQLAlchemy's execution.
    values = {"object_type": "labs", "object_id": 7, "action": "update", "note": "",
              "details": {}}
    with pytest.raises(ValueError, match=r"^fetch writes no column left to a default worked "
                                         r"out in Python: .*'at'"):
        run(db.session.connection(), _EVENT.insert(), values)


def test_an_update_returns_what_it_asks_for_and_writes_as_its_types_write():
    booking = create_booking(purpose="旧用途")
    table = Booking.__table__
    statement = (table.update().where(table.c.id == bindparam("booking_id"))
                 .values(purpose=bindparam("new_purpose"), updated_at=bindparam("moment"),
                         sequence=table.c.sequence + 1)
                 .returning(table.c.sequence, table.c.updated_at))
    shanghai = dt.timezone(dt.timedelta(hours=8))
    [(sequence, updated_at)] = fetch(db.session.connection(), statement, {
        "booking_id": booking.id, "new_purpose": "新用途",
        "moment": UTC_NOON.astimezone(shanghai)})
    assert sequence == booking.sequence + 1 and updated_at == UTC_NOON
    assert db.session.connection().execute(select(table.c.purpose).where(
        table.c.id == booking.id)).scalar_one() == "新用途"


def test_on_a_session_what_waits_to_be_flushed_is_read_unless_the_session_holds_it_back():
    instrument = create_instrument(code="XRD-01")
    statement = select(_INSTRUMENT.code).where(_INSTRUMENT.id == bindparam("id"))
    instrument.code = "XRD-02"
    with db.session.no_autoflush:
        assert fetch(db.session, statement, {"id": instrument.id}) == [("XRD-01",)]
    assert fetch(db.session, statement, {"id": instrument.id}) == [("XRD-02",)]
    assert not db.session.dirty


def test_the_statements_of_a_connection_share_its_cursor_until_one_fails():
    cursors: list[object] = []

    def note(_connection, cursor, *_args) -> None:
        cursors.append(cursor)

    statement = select(Lab.__table__.c.id)
    failing = select(text("no_such_column")).select_from(Lab.__table__)
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        connection = db.session.connection()
        fetch(connection, statement, {})
        fetch(connection, statement, {})
        with pytest.raises(DBAPIError):
            fetch(connection, failing, {})
        db.session.rollback()
        assert fetch(db.session.connection(), statement, {}) == []
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    first, second, failed, after = cursors
    assert first is second is failed and after is not failed
