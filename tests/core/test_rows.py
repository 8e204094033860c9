"""Objects made from rows read in Core behave as objects the ORM loaded: persistent, their values
committed, nothing to flush, what was not read loaded lazily, and the session's own object for a
row brought up to date rather than doubled."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import event, inspect, select
from sqlalchemy.orm.exc import ObjectDeletedError

from labbook.accounts.models import User
from labbook.catalogue.models import Instrument, InstrumentStatus, Lab
from labbook.core.engine import lock, write_transaction
from labbook.core.rows import columns_of, loaded, persistent, read_locked
from labbook.enterprises.models import OrganizationAdmin
from labbook.extensions import db
from tests.factories import create_instrument, create_lab, create_manager, create_user


def row_of(model, object_id: int):
    """The whole row of ``model`` ``object_id``, read in Core (no ORM object loaded)."""
    table = model.__table__
    return db.session.connection().execute(
        select(*columns_of(model)).where(table.c.id == object_id)).one()


def statements_during(action) -> list[str]:
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return seen


def test_a_row_becomes_a_persistent_object_with_nothing_to_flush():
    instrument = create_instrument(name_en="Diffractometer")
    instrument_id, lab_id = instrument.id, instrument.lab_id
    db.session.commit()
    db.session.expunge_all()
    made = loaded(db.session, Instrument, row_of(Instrument, instrument_id))
    state = inspect(made)
    assert state.persistent and made in db.session
    assert made.name_en == "Diffractometer" and made.status is InstrumentStatus.AVAILABLE
    assert not db.session.dirty and not state.modified
    assert db.session.get(Instrument, instrument_id) is made  # the identity map holds it
    # Relationships not read load lazily, in the session, as on any loaded object.
    assert made.lab.id == lab_id
    assert statements_during(db.session.flush) == []


def test_the_sessions_own_object_is_brought_up_to_date_not_doubled():
    instrument = create_instrument(name_en="Old name")
    db.session.commit()
    # Another connection renames it: the session's object still says the old name.
    with db.engine.begin() as other:
        other.execute(Instrument.__table__.update().where(Instrument.__table__.c.id
                                                          == instrument.id)
                      .values(name_en="New name"))
    assert instrument.name_en == "Old name"
    made = loaded(db.session, Instrument, row_of(Instrument, instrument.id))
    assert made is instrument
    assert instrument.name_en == "New name" and not inspect(instrument).modified


def test_a_changed_attribute_takes_the_rows_value_as_a_fresh_load_would():
    instrument = create_instrument(name_en="Stored")
    db.session.commit()
    row = row_of(Instrument, instrument.id)
    instrument.name_en = "Unsaved"
    loaded(db.session, Instrument, row)
    assert instrument.name_en == "Stored" and not db.session.is_modified(instrument)
    assert statements_during(db.session.flush) == []


def test_the_session_itself_serves_as_well_as_its_request_scoped_proxy():
    instrument = create_instrument()
    db.session.commit()
    db.session.expunge_all()
    session = db.session()
    made = loaded(session, Instrument, row_of(Instrument, instrument.id))
    assert inspect(made).session is session and session.get(Instrument, instrument.id) is made


def test_values_by_attribute_name_become_an_object_too():
    lab = create_instrument().lab
    db.session.commit()
    values = dict(row_of(Lab, lab.id)._mapping)
    db.session.expunge_all()
    made = persistent(db.session, Lab, values)
    assert inspect(made).persistent and made.code == lab.code


def test_the_columns_types_convert_the_values_as_a_load_would():
    user = create_user(name="王研究", is_active=True)
    db.session.commit()
    db.session.expunge_all()
    made = loaded(db.session, User, row_of(User, user.id))
    assert made.name == "王研究" and made.is_active is True
    assert made.created_at.tzinfo is dt.UTC


def test_a_row_of_another_shape_is_refused_not_half_read():
    instrument = create_instrument()
    db.session.commit()
    row = row_of(Instrument, instrument.id)
    db.session.expunge_all()
    with pytest.raises(ValueError, match="zip"):
        loaded(db.session, Instrument, row[:-1])


def test_a_new_object_needs_every_column_for_one_left_out_would_read_as_none():
    lab = create_instrument().lab
    db.session.commit()
    values = dict(row_of(Lab, lab.id)._mapping)
    db.session.expunge_all()
    del values["timezone"]
    with pytest.raises(ValueError, match=r"Lab needs a value for every column: \['timezone'\]"):
        persistent(db.session, Lab, values)


def test_a_manager_read_as_a_row_still_finds_their_labs():
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    db.session.commit()
    db.session.expunge_all()
    made = loaded(db.session, User, row_of(User, manager.id))
    assert made.manages_lab_id(instrument.lab_id)


def test_read_locked_finds_a_row_by_a_key_of_two_columns_and_none_for_no_row():
    user = create_user()
    organization_id = user.organization_id
    db.session.add(OrganizationAdmin(organization_id=organization_id, user_id=user.id))
    db.session.commit()
    db.session.expunge_all()
    found = read_locked(db.session, OrganizationAdmin, (organization_id, user.id))
    assert inspect(found).persistent and found.user_id == user.id
    assert read_locked(db.session, OrganizationAdmin, (organization_id, user.id + 1)) is None
    assert read_locked(db.session, Instrument, 999_999) is None


def test_read_locked_flushes_what_waits_as_a_query_would_and_keeps_the_change():
    instrument = create_instrument(name_en="Stored")
    db.session.commit()
    instrument.name_en = "Changed, not yet flushed"
    assert read_locked(db.session, Instrument, instrument.id) is instrument
    assert instrument.name_en == "Changed, not yet flushed"


def test_inside_no_autoflush_nothing_is_flushed_and_the_row_wins():
    instrument = create_instrument(name_en="Stored")
    db.session.commit()
    with db.session.no_autoflush:
        instrument.name_en = "Changed"
        read_locked(db.session, Instrument, instrument.id)
    assert instrument.name_en == "Stored"


def test_lock_reads_the_row_again_and_its_related_objects_when_next_asked_for():
    instrument = create_instrument()
    old_lab, new_lab = instrument.lab, create_lab()
    db.session.commit()
    with db.engine.begin() as other:
        other.execute(Instrument.__table__.update()
                      .where(Instrument.__table__.c.id == instrument.id)
                      .values(lab_id=new_lab.id, name_en="Moved"))
    assert instrument.lab is old_lab
    with write_transaction(db.session):
        lock(db.session, instrument)
        assert instrument.name_en == "Moved" and instrument.lab is new_lab


def test_lock_of_a_row_deleted_meanwhile_fails_as_reading_a_deleted_object_does():
    instrument = create_instrument()
    db.session.commit()
    with db.engine.begin() as other:
        other.execute(Instrument.__table__.delete()
                      .where(Instrument.__table__.c.id == instrument.id))
    with pytest.raises(ObjectDeletedError, match="<Instrument at "), \
            write_transaction(db.session):
        lock(db.session, instrument)
