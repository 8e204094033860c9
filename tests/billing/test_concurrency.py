"""Billing changes that meet: two transactions on one statement, charge, instrument or month.

``tests.concurrency.overlap`` runs a second change while the first has done its work but not
yet committed, each in its own connection; the outcome must be one the two changes could have
had one after the other. The last test races thirty requests against a real server.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from labbook.accounts.models import PriceTier, User
from labbook.audit.models import AuditEvent
from labbook.billing import services as billing
from labbook.billing.models import (
    BillingBasis,
    Charge,
    MonthClose,
    RateCard,
    Statement,
    StatementState,
)
from labbook.booking.models import Booking, BookingState
from labbook.catalogue.models import Instrument, Lab
from labbook.core.engine import write_transaction
from labbook.core.errors import Conflict, NotFound, ValidationError
from labbook.extensions import db
from tests.concurrency import overlap
from tests.factories import (
    bearer,
    create_admin,
    create_booking,
    create_charge,
    create_instrument,
    create_lab,
    create_manager,
    create_organization,
    create_statement,
    lab_time,
)
from tests.live import live_server

NOW = lab_time(dt.date(2026, 12, 2), 10)


def draft(amounts: tuple[str, ...] = ("100.00", "50.00")) -> Statement:
    organization = create_organization()
    lab = create_lab()
    return create_statement([create_charge(organization=organization, lab=lab,
                                           amount=Decimal(amount)) for amount in amounts])


def lines_of(statement_id: int) -> tuple[int, Decimal]:
    db.session.rollback()
    return db.session.execute(
        select(func.count(), func.coalesce(func.sum(Charge.amount), 0))
        .where(Charge.statement_id == statement_id)).one()


def stored(statement_id: int) -> Statement:
    db.session.rollback()
    return db.session.get(Statement, statement_id, populate_existing=True)


def trail(model: type, ident: int) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == model.__tablename__,
                                        AuditEvent.object_id == ident)
        .order_by(AuditEvent.id)))


def adjust(statement_id: int, admin_id: int, amount: str = "1.00") -> Callable[[Any], Any]:
    """An admin's adjustment into the statement, read at the start of the transaction (as the
    API and the pages do) and so possibly before a concurrent change commits."""

    def work(session) -> int:
        statement = session.get(Statement, statement_id)
        charge = billing.create_adjustment(
            session, session.get(User, admin_id), organization=statement.organization,
            lab=statement.charges[0].lab, amount=Decimal(amount), reason="补收耗材费",
            now=NOW, statement=statement)
        return charge.id

    return work


def issue(statement_id: int, admin_id: int) -> Callable[[Any], Any]:
    def work(session) -> str:
        statement = session.get(Statement, statement_id)
        billing.issue_statement(session, session.get(User, admin_id), statement, now=NOW)
        return str(statement.total)

    return work


def mark_paid(statement_id: int, admin_id: int) -> Callable[[Any], Any]:
    def work(session) -> str:
        statement = session.get(Statement, statement_id)
        billing.mark_paid(session, session.get(User, admin_id), statement, now=NOW)
        return statement.state.value

    return work


# -- statements ---------------------------------------------------------------------------------

def test_two_adjustments_into_one_draft_both_count(app):
    statement, admin = draft(), create_admin()
    first, second = overlap(app, adjust(statement.id, admin.id, "1.00"),
                            adjust(statement.id, admin.id, "2.50"))
    assert isinstance(first, int) and isinstance(second, int)
    assert lines_of(statement.id) == (4, Decimal("153.50"))
    assert stored(statement.id).total == Decimal("153.50")


def test_an_adjustment_before_the_issue_is_in_the_issued_total(app):
    statement, admin = draft(), create_admin()
    added, issued_total = overlap(app, adjust(statement.id, admin.id),
                                  issue(statement.id, admin.id))
    assert isinstance(added, int)
    assert issued_total == "151.00"
    assert lines_of(statement.id) == (3, Decimal("151.00"))
    assert stored(statement.id).state == StatementState.ISSUED


def test_an_adjustment_after_the_issue_is_refused_and_the_issued_statement_unchanged(app):
    statement, admin = draft(), create_admin()
    issued_total, refused = overlap(app, issue(statement.id, admin.id),
                                    adjust(statement.id, admin.id))
    assert issued_total == "150.00"
    assert isinstance(refused, Conflict) and refused.code == "invalid_state"
    assert lines_of(statement.id) == (2, Decimal("150.00"))
    assert stored(statement.id).total == Decimal("150.00")


def test_two_issues_issue_once(app):
    statement, admin = draft(), create_admin()
    first, second = overlap(app, issue(statement.id, admin.id),
                            issue(statement.id, create_admin().id))
    assert first == "150.00"
    assert isinstance(second, Conflict) and second.code == "invalid_state"
    assert trail(Statement, statement.id) == ["issue"]


def test_a_payment_racing_the_issue_waits_for_it(app):
    statement, admin = draft(), create_admin()
    issued, paid = overlap(app, issue(statement.id, admin.id),
                           mark_paid(statement.id, create_admin().id))
    assert issued == "150.00" and paid == "paid"
    assert trail(Statement, statement.id) == ["issue", "mark_paid"]


def test_two_payments_record_one(app):
    statement, admin = draft(), create_admin()
    statement.state = StatementState.ISSUED
    db.session.commit()
    first, second = overlap(app, mark_paid(statement.id, admin.id),
                            mark_paid(statement.id, create_admin().id))
    assert first == "paid"
    assert isinstance(second, Conflict) and second.code == "invalid_state"
    assert trail(Statement, statement.id) == ["mark_paid"]


def test_a_stale_statement_object_cannot_put_a_line_on_an_issued_statement():
    """An object read before another connection issued the statement (here: kept from an
    earlier session) still says "draft"; the adjustment decides on the row as it is now."""
    statement, admin = draft(), create_admin()
    organization, lab = statement.organization, statement.charges[0].lab
    db.session.expunge(statement)
    with write_transaction(db.session):
        billing.issue_statement(db.session, admin, db.session.get(Statement, statement.id),
                                now=NOW)
    assert statement.state == StatementState.DRAFT  # what the stale object still says
    with pytest.raises(Conflict) as refused, write_transaction(db.session):
        billing.create_adjustment(db.session, admin, organization=organization, lab=lab,
                                  amount=Decimal("5.00"), reason="late", now=NOW,
                                  statement=statement)
    assert refused.value.code == "invalid_state"
    assert lines_of(statement.id) == (2, Decimal("150.00"))
    assert stored(statement.id).total == Decimal("150.00")


def test_a_stale_total_is_never_written_back():
    statement, admin = draft(), create_admin()
    organization, lab = statement.organization, statement.charges[0].lab
    db.session.expunge(statement)
    with write_transaction(db.session):
        billing.create_adjustment(db.session, admin, organization=organization, lab=lab,
                                  amount=Decimal("7.00"), reason="first", now=NOW,
                                  statement=db.session.get(Statement, statement.id))
    assert statement.total == Decimal("150.00")  # the stale object's total
    with write_transaction(db.session):
        billing.create_adjustment(db.session, admin, organization=organization, lab=lab,
                                  amount=Decimal("3.00"), reason="second", now=NOW,
                                  statement=statement)
    assert lines_of(statement.id) == (4, Decimal("160.00"))
    assert stored(statement.id).total == Decimal("160.00")


# -- month close --------------------------------------------------------------------------------

def close(period: str) -> Callable[[Any], Any]:
    def work(session) -> tuple[bool, list[str]]:
        result = billing.close_month(session, None, period, now=NOW)
        return result.was_already_closed, [s.number for s in result.statements]

    return work


def test_a_month_closed_twice_at_once_is_closed_once(app):
    lab = create_lab()
    for _ in range(2):
        create_charge(organization=create_organization(), lab=lab,
                      occurred_at=lab_time(dt.date(2026, 10, 5), 10))
    first, second = overlap(app, close("2026-10"), close("2026-10"))
    assert first == (False, ["LB-2026-000001", "LB-2026-000002"])
    assert second == (True, [])
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(MonthClose)) == 1
    assert db.session.scalar(select(func.count()).select_from(Statement)) == 2


def test_two_months_closed_at_once_number_their_statements_in_turn(app):
    lab = create_lab()
    october, november = create_organization(), create_organization()
    create_charge(organization=october, lab=lab, occurred_at=lab_time(dt.date(2026, 10, 5), 10))
    create_charge(organization=november, lab=lab, occurred_at=lab_time(dt.date(2026, 11, 5), 10))
    first, second = overlap(app, close("2026-10"), close("2026-11"))
    assert first == (False, ["LB-2026-000001"])
    assert second == (False, ["LB-2026-000002"])
    db.session.rollback()
    for statement in db.session.scalars(select(Statement)):
        assert (statement.total, len(statement.charges)) == (Decimal("100.00"), 1)


# -- charges ------------------------------------------------------------------------------------

def test_a_booking_charged_twice_at_once_has_one_charge(app):
    instrument = create_instrument(rates={PriceTier.EXTERNAL: Decimal("60.00")})
    start = lab_time(dt.date(2026, 11, 2), 9)
    booking = create_booking(instrument=instrument, start_at=start,
                             end_at=start + dt.timedelta(hours=1), state=BookingState.NO_SHOW)
    other = create_charge()  # the loser must find this booking's charge, not just any charge

    def charge(session) -> int:
        return billing.charge_no_show(session, session.get(Booking, booking.id), now=NOW).id

    first, second = overlap(app, charge, charge)
    assert isinstance(first, int) and first == second != other.id
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Charge)) == 2


# -- rate cards ---------------------------------------------------------------------------------

def add_card(instrument_id: int, manager_id: int, rate: str) -> Callable[[Any], Any]:
    def work(session) -> int:
        return billing.add_rate_card(
            session, session.get(User, manager_id), session.get(Instrument, instrument_id),
            billing.RateCardInput(tier=PriceTier.PARTNER, effective_from=dt.date(2026, 12, 3),
                                  hourly_rate=Decimal(rate), billing_basis=BillingBasis.BOOKED,
                                  rounding_minutes=15, minimum_minutes=0, no_show_percent=100,
                                  late_cancel_percent=50), now=NOW).id

    return work


def test_two_rate_cards_for_one_day_make_one(app):
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    first, second = overlap(app, add_card(instrument.id, manager.id, "80.00"),
                            add_card(instrument.id, manager.id, "90.00"))
    assert isinstance(first, int)
    assert isinstance(second, ValidationError)
    assert second.code == "overlapping_effective_dates"
    db.session.rollback()
    assert db.session.scalars(select(RateCard.hourly_rate).where(
        RateCard.tier == PriceTier.PARTNER, RateCard.effective_from == dt.date(2026, 12, 3))
    ).all() == [Decimal("80.00")]


def test_a_card_withdrawn_twice_at_once_is_withdrawn_once(app):
    instrument = create_instrument()
    manager = create_manager(instrument.lab)
    with write_transaction(db.session):
        card_id = add_card(instrument.id, manager.id, "80.00")(db.session)

    def withdraw(session) -> None:
        card = session.get(RateCard, card_id)
        if card is None:  # as the API and the page answer for a card already gone
            raise NotFound("no such rate card")
        billing.withdraw_rate_card(session, session.get(User, manager.id), card, now=NOW)

    first, second = overlap(app, withdraw, withdraw)
    assert first is None
    assert isinstance(second, NotFound)
    assert trail(RateCard, card_id) == ["create", "withdraw"]


# -- against a real server ------------------------------------------------------------------------

ADJUSTMENTS = 30


def post(url: str, headers: dict, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_thirty_adjustments_at_once_all_count_in_the_total(database_url):
    statement = draft()
    lab: Lab = statement.charges[0].lab
    payload = {"organization_id": statement.organization_id, "lab": lab.code,
               "amount": "1.00", "reason": "补收耗材费", "statement_id": statement.id}
    clients = [bearer(create_manager(lab)) for _ in range(ADJUSTMENTS)]
    db.session.rollback()
    with live_server(database_url, workers=4) as base_url:
        barrier = threading.Barrier(ADJUSTMENTS)
        statuses: list[int] = []

        def send(headers: dict) -> None:
            barrier.wait()
            status, _body = post(f"{base_url}/api/v1/charges", headers, payload)
            statuses.append(status)

        threads = [threading.Thread(target=send, args=(headers,)) for headers in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    assert statuses == [201] * ADJUSTMENTS
    assert lines_of(statement.id) == (2 + ADJUSTMENTS, Decimal("180.00"))
    assert stored(statement.id).total == Decimal("180.00")
