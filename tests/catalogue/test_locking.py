"""Catalogue edits decide on the instrument or service as it is now, not as the caller last saw
it: another request changes the row and commits, and the stale object handed to the service is
read afresh under a lock, so nothing is changed or audited twice."""

import datetime as dt

from sqlalchemy import func, select

from labbook.accounts.models import User
from labbook.audit.models import AuditEvent
from labbook.catalogue import services as catalogue
from labbook.catalogue.models import Instrument, InstrumentStatus, TestingService
from labbook.core.engine import write_transaction
from labbook.extensions import db
from tests.booking.test_locking import elsewhere
from tests.factories import create_instrument, create_lab, create_manager, create_service, reload

NOW = dt.datetime(2026, 11, 27, 4, 0, tzinfo=dt.UTC)


def events(row: Instrument | TestingService, action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == row.__tablename__, AuditEvent.object_id == row.id,
        AuditEvent.action == action))


def test_a_status_already_changed_meanwhile_is_not_changed_again():
    lab = create_lab()
    manager = create_manager(lab)
    instrument = create_instrument(lab=lab)
    assert instrument.status == InstrumentStatus.AVAILABLE  # as the test's session saw it
    with elsewhere() as other:
        catalogue.change_instrument_status(other, other.get(User, manager.id),
                                           other.get(Instrument, instrument.id), "maintenance",
                                           "年度校准", now=NOW)

    with write_transaction(db.session):
        changed = catalogue.change_instrument_status(db.session, manager, instrument,
                                                     "maintenance", "年度校准", now=NOW)

    assert not changed
    assert reload(instrument).status == InstrumentStatus.MAINTENANCE
    assert events(instrument, "status") == 1


def test_a_service_retired_meanwhile_is_not_retired_again():
    lab = create_lab()
    manager = create_manager(lab)
    service = create_service(lab=lab)
    assert service.is_active  # as the test's session saw it
    with elsewhere() as other:
        catalogue.set_service_offered(other, other.get(User, manager.id),
                                      other.get(TestingService, service.id), offered=False,
                                      now=NOW)

    with write_transaction(db.session):
        changed = catalogue.set_service_offered(db.session, manager, service, offered=False,
                                                now=NOW)

    assert not changed
    assert not reload(service).is_active
    assert events(service, "retire") == 1
