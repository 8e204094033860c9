"""Two managers handling the same fault report at once: closing it twice, or closing it while
answering it. The report is read under a lock, so exactly one close wins, the other is refused
with invalid_state, and the audit trail and the reporter's emails say what happened once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from labbook.audit.models import AuditEvent
from labbook.core.engine import write_transaction
from labbook.core.time import utcnow
from labbook.extensions import db
from labbook.faults import services
from labbook.faults.models import FaultState, InstrumentFault
from labbook.notify.models import OutboxMessage
from tests.factories import create_instrument, create_manager, create_user
from tests.races.harness import Call, api_headers, fire, play_rounds

pytestmark = pytest.mark.slow


@pytest.fixture
def scene():
    instrument = create_instrument()
    return (instrument, create_user(), api_headers(create_manager(instrument.lab)),
            api_headers(create_manager(instrument.lab)))


def _report(instrument, reporter) -> int:
    with write_transaction(db.session):
        fault = services.report_problem(db.session, reporter, instrument,
                                        description="样品台卡住", now=utcnow())
    return fault.id


def _closes(fault_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.object_type == InstrumentFault.__tablename__,
        AuditEvent.object_id == fault_id, AuditEvent.action == "close"))


def test_a_report_closed_twice_at_once_is_closed_once(server, scene):
    instrument, reporter, first, second = scene

    def play(round_no: int) -> None:
        fault_id = _report(instrument, reporter)
        answers = fire(server, [
            Call(f"close {n}", "POST", f"/api/v1/faults/{fault_id}/close", headers,
                 {"kind": "breakdown", "fix": f"修复 {n}"})
            for n, headers in enumerate((first, second))])
        db.session.rollback()
        assert sorted(answer.outcome for answer in answers) == ["ok", "refused"], \
            [str(answer) for answer in answers]
        assert {answer.code for answer in answers if answer.outcome == "refused"} == \
            {"invalid_state"}
        fault = db.session.get(InstrumentFault, fault_id)
        db.session.refresh(fault)
        winner = next(answer for answer in answers if answer.outcome == "ok")
        assert fault.state == FaultState.CLOSED and fault.fix == winner.body["fix"]
        assert _closes(fault_id) == 1
        # One email per round tells the reporter that their report was closed.
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == "fault_closed",
            OutboxMessage.user_id == reporter.id)) == round_no + 1

    play_rounds(play)


def test_an_answer_racing_a_close_lands_before_it_or_is_refused(server, scene):
    instrument, reporter, first, second = scene

    def play(_round_no: int) -> None:
        fault_id = _report(instrument, reporter)
        answers = fire(server, [
            Call("answer", "POST", f"/api/v1/faults/{fault_id}/answer", first,
                 {"answer": "正在处理"}),
            Call("close", "POST", f"/api/v1/faults/{fault_id}/close", second,
                 {"kind": "problem"})])
        db.session.rollback()
        by_op = {answer.call.op: answer for answer in answers}
        assert by_op["close"].outcome == "ok", str(by_op["close"])
        fault = db.session.get(InstrumentFault, fault_id)
        db.session.refresh(fault)
        if by_op["answer"].outcome == "ok":
            assert fault.answer == "正在处理"
        else:
            assert by_op["answer"].code == "invalid_state" and fault.answer == ""
        assert fault.state == FaultState.CLOSED and _closes(fault_id) == 1

    play_rounds(play)
