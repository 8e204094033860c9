"""Statement changes, adjustments and month closes sent at the same moment.

A draft statement of a fresh organization holds two ¥100.00 lines; adjustments of ¥1.00 go
into it while it is issued or paid. Whatever the order, a statement's total is the sum of its
lines, and an issued statement never changes again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from labbook.billing.models import Charge, MonthClose, Statement, StatementState
from labbook.catalogue.models import Lab
from labbook.extensions import db
from tests.factories import (
    create_admin,
    create_charge,
    create_lab,
    create_manager,
    create_organization,
    create_statement,
    lab_time,
)
from tests.races.harness import (
    ROUNDS,
    Call,
    Transition,
    api_headers,
    assert_serializable,
    fire,
    play_rounds,
    trail,
)

pytestmark = pytest.mark.slow

ADJUSTMENT = Decimal("1.00")

#: A statement as the model sees it: its state, its number of lines and its total.
StatementView = tuple[str, int, Decimal]


def issue(state: StatementView) -> list[tuple[str, StatementView]]:
    phase, lines, total = state
    if phase != StatementState.DRAFT:
        return [("refused", state)]
    return [("ok", (StatementState.ISSUED.value, lines, total))]


def mark_paid(state: StatementView) -> list[tuple[str, StatementView]]:
    phase, lines, total = state
    if phase != StatementState.ISSUED:
        return [("refused", state)]
    return [("ok", (StatementState.PAID.value, lines, total))]


def adjust(state: StatementView) -> list[tuple[str, StatementView]]:
    phase, lines, total = state
    if phase != StatementState.DRAFT:
        return [("refused", state)]
    return [("ok", (phase, lines + 1, total + ADJUSTMENT))]


MODEL: dict[str, Transition] = {"issue": issue, "paid": mark_paid, "adjust": adjust}


def told_statement(body: dict[str, Any]) -> StatementView:
    return body["state"], len(body["lines"]), Decimal(body["total"])


def statement_phase(state: StatementView) -> str:
    return state[0]


@dataclass
class Scene:
    lab: Lab
    admin_api: dict[str, str]
    other_admin_api: dict[str, str]
    manager_api: dict[str, str]


@pytest.fixture
def scene() -> Scene:
    lab = create_lab()
    return Scene(lab, api_headers(create_admin()), api_headers(create_admin()),
                 api_headers(create_manager(lab)))


def issue_call(statement_id: int, headers: dict[str, str]) -> Call:
    return Call("issue", "POST", f"/api/v1/statements/{statement_id}/issue", headers,
                told=told_statement)


def paid_call(statement_id: int, headers: dict[str, str]) -> Call:
    return Call("paid", "POST", f"/api/v1/statements/{statement_id}/paid", headers,
                {"note": "银行转账"}, told=told_statement)


def adjust_call(scene: Scene, statement: Statement) -> Call:
    return Call("adjust", "POST", "/api/v1/charges", scene.manager_api,
                {"organization_id": statement.organization_id, "lab": scene.lab.code,
                 "amount": str(ADJUSTMENT), "reason": "补收耗材费",
                 "statement_id": statement.id}, statuses={201: "ok"})


def race(server: str, scene: Scene, calls: Any, *, rounds: int = ROUNDS,
         issued: bool = False) -> None:
    """Race ``calls(statement)`` on a new draft statement (issued first, if so told), round
    after round."""

    def play(_round: int) -> None:
        organization = create_organization()
        statement = create_statement([create_charge(organization=organization, lab=scene.lab)
                                      for _ in range(2)])
        statement_id = statement.id
        initial = (StatementState.DRAFT.value, 2, statement.total)
        if issued:
            [answer] = fire(server, [issue_call(statement_id, scene.admin_api)])
            assert answer.status == 200, answer
            initial = (StatementState.ISSUED.value, 2, statement.total)
        before = len(trail(Statement, statement_id))
        answers = fire(server, calls(statement))
        assert_serializable(initial, MODEL, answers, final_statement(statement_id),
                            trail=trail(Statement, statement_id)[before:],
                            phase=statement_phase)

    play_rounds(play, rounds)


def final_statement(statement_id: int) -> StatementView:
    db.session.rollback()
    state, total = db.session.execute(select(Statement.state, Statement.total)
                                      .where(Statement.id == statement_id)).one()
    lines = db.session.scalar(select(func.count()).select_from(Charge)
                              .where(Charge.statement_id == statement_id))
    return state.value, lines, total


def test_issue_races_an_adjustment_into_the_draft(server, scene):
    race(server, scene, lambda statement: [issue_call(statement.id, scene.admin_api),
                                           adjust_call(scene, statement)])


def test_thirty_adjustments_into_one_draft_all_count(server, scene):
    race(server, scene, lambda statement: [adjust_call(scene, statement) for _ in range(30)],
         rounds=3)


def test_two_issues_race(server, scene):
    race(server, scene, lambda statement: [issue_call(statement.id, scene.admin_api),
                                           issue_call(statement.id, scene.other_admin_api)])


def test_payment_races_issue(server, scene):
    race(server, scene, lambda statement: [issue_call(statement.id, scene.admin_api),
                                           paid_call(statement.id, scene.other_admin_api)])


def test_two_payments_race(server, scene):
    race(server, scene, lambda statement: [paid_call(statement.id, scene.admin_api),
                                           paid_call(statement.id, scene.other_admin_api)],
         issued=True)


# -- closing a month ------------------------------------------------------------------------------

#: A month as the model sees it: closed or not, its statements, its charges not yet billed.
MonthView = tuple[bool, int, int]


def close(organizations: int) -> Transition:
    """The first close builds one statement per organization; a later one finds the month
    closed (or, sent while the first is still at work, is told so)."""

    def step(state: MonthView) -> list[tuple[str, MonthView]]:
        if state[0]:
            return [("already", state), ("refused", state)]
        return [("ok", (True, organizations, 0))]

    return step


def test_a_month_closed_twice_at_once_is_closed_once(server, scene):
    organizations = 2

    def play(round_no: int) -> None:
        year = 2001 + round_no
        period = f"{year}-06"
        for _ in range(organizations):
            create_charge(organization=create_organization(), lab=scene.lab,
                          occurred_at=lab_time(dt.date(year, 6, 12), 10))
        calls = [Call("close", "POST", "/api/v1/statements/close", headers, {"period": period},
                      statuses={201: "ok", 200: "already"},
                      told=lambda body: (True, len(body["statements"]), 0))
                 for headers in (scene.admin_api, scene.other_admin_api)]
        answers = fire(server, calls)
        assert_serializable((False, 0, organizations), {"close": close(organizations)},
                            answers, final_month(period))

    play_rounds(play)


def final_month(period: str) -> MonthView:
    db.session.rollback()
    closes = db.session.scalar(select(func.count()).select_from(MonthClose)
                               .where(MonthClose.period == period))
    assert closes <= 1, f"{period} closed {closes} times"
    statements = db.session.scalar(select(func.count()).select_from(Statement)
                                   .where(Statement.period == period))
    unbilled = db.session.scalar(select(func.count()).select_from(Charge)
                                 .where(Charge.period == period, Charge.statement_id.is_(None)))
    return bool(closes), statements, unbilled
