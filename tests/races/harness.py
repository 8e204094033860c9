"""Conflicting requests fired at one moment against a real multi-worker server, and the checks
that what they answered and what they left behind could have come from running them one after
the other.

A test prepares rows, describes each racing request as a ``Call`` (which transition of the
model it is), fires them with ``fire`` and reads the final state from the database. Then
``assert_serializable`` looks for an order of the requests in which the model, applied one
request at a time, gives every request the answer it got and ends in the state found.
``play_rounds`` plays a race round after round and checks after each what must hold whatever
happened (``invariant_problems``): one charge per booking and per service request, statement
totals equal to their lines and unchanged since issue, and audit trails whose transitions
follow on from each other.
"""

from __future__ import annotations

import datetime as dt
import enum
import http.client
import json
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from labbook.accounts.models import ApiToken, User
from labbook.audit.models import AuditEvent
from labbook.billing.models import Charge, Statement, StatementState
from labbook.booking.models import Booking
from labbook.extensions import db
from labbook.testing.models import ServiceRequest
from tests.factories import bearer

#: Rounds of each race: enough for a missing lock to show on PostgreSQL in nearly every run.
ROUNDS = 12

#: Answers that say "not any more" (or "not like this"); anything else is neither a success
#: nor a refusal.
REFUSALS = (409, 422)

State = Any
#: For one kind of request: from a state, the answers it may get and the state each leaves.
Transition = Callable[[State], Sequence[tuple[str, State]]]


def becomes(to: enum.Enum, *sources: enum.Enum,
            then: Callable[[str, Any], Any] | None = None) -> Transition:
    """The transition of a row whose model state is (its state, what else the test follows):
    from one of ``sources`` to ``to``, refused from anywhere else. ``then(source, rest)`` says
    what becomes of the rest (a charge, say) when it leaves ``source``."""
    allowed = {source.value for source in sources}

    def step(state: tuple[str, Any]) -> list[tuple[str, tuple[str, Any]]]:
        current, rest = state
        if current not in allowed:
            return [("refused", state)]
        return [("ok", (to.value, rest if then is None else then(current, rest)))]

    return step


@dataclass(frozen=True)
class Call:
    """One racing request: ``op`` names its transition in the model."""

    op: str
    method: str
    path: str
    headers: Mapping[str, str]
    json: Any = None
    #: Status → outcome for the answers that are not refusals (``ok`` by default for 200).
    statuses: Mapping[int, str] = field(default_factory=lambda: {200: "ok"})
    #: What a successful answer says the state became (compared with the model's ``view``).
    told: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Answer:
    call: Call
    status: int
    body: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @property
    def outcome(self) -> str:
        if self.status in self.call.statuses:
            return self.call.statuses[self.status]
        if self.status in REFUSALS and self.code:
            return "refused"
        return f"HTTP {self.status}"

    def __str__(self) -> str:
        detail = self.code or (self.body if isinstance(self.body, str) else "")
        return f"{self.call.op}: {self.status} {detail}".rstrip()


def api_headers(user: User) -> dict[str, str]:
    """Bearer headers of a new token of ``user``, already marked as used.

    A token's first use writes its "last used" time; marking it now keeps that extra write out
    of the race, so the requests meet at the transition under test.
    """
    headers = bearer(user)
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id)
                       .values(last_used_at=dt.datetime.now(dt.UTC)))
    db.session.commit()
    return headers


def fire(base_url: str, calls: Sequence[Call]) -> list[Answer]:
    """Send ``calls`` at the same moment and return their answers, in the order of ``calls``.

    Each request has a connection of its own, opened (and so accepted by a worker, which then
    waits for the request) before the threads meet at the barrier; after it each sends at once.
    """
    address = urlsplit(base_url)
    barrier = threading.Barrier(len(calls))
    answers: list[Answer | None] = [None] * len(calls)

    def send(index: int, call: Call) -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=120)
        try:
            connection.connect()
            body = None if call.json is None else json.dumps(call.json).encode()
            headers = {**call.headers, "Connection": "close"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            barrier.wait(timeout=60)
            connection.request(call.method, call.path, body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            answers[index] = Answer(call, response.status, _parse(raw))
        except (OSError, threading.BrokenBarrierError, http.client.HTTPException) as error:
            barrier.abort()  # the others must not wait for a request that will not come
            answers[index] = Answer(call, 0, f"no answer: {error!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(index, call), daemon=True)
               for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    missing = [str(call.op) for call, answer in zip(calls, answers, strict=True)
               if answer is None]
    assert not missing, f"requests still running after 3 minutes: {missing}"
    return [answer for answer in answers if answer is not None]


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:500]


def assert_answered(answers: Sequence[Answer]) -> None:
    """Every request got an answer, and none was a server error."""
    broken = [f"{answer} {answer.body!r}"[:400] for answer in answers
              if answer.status == 0 or answer.status >= 500]
    assert not broken, "server errors or no answer:\n" + "\n".join(broken)


def serial_order(initial: State, model: Mapping[str, Transition], answers: Sequence[Answer],
                 final: State, *, view: Callable[[State], Any] = lambda state: state,
                 trail: Sequence[tuple[str | None, str]] | None = None,
                 phase: Callable[[State], Any] | None = None) -> list[Answer] | None:
    """An order of ``answers`` in which ``model`` gives each its outcome and ends in ``final``,
    or None.

    A successful answer that tells the new state (``Call.told``) must tell the state its request
    left or a later one: the answer is rendered after the commit, by which time a request that
    came next may have changed the row again. With ``trail`` (the audit log's (from, to) pairs)
    the order must also account for exactly those transitions: one per change of ``phase``
    (the part of the state the log records; ``view`` unless given).
    """
    phase = phase or view

    def search(state: State, remaining: list[Answer],
               trace: list[tuple[Answer, State, State]]) -> list[Answer] | None:
        if not remaining:
            explained = state == final and _told_truly(trace, view) \
                and (trail is None or _transitions(trace, phase) == list(trail))
            return [answer for answer, _before, _after in trace] if explained else None
        tried = set()
        for index, answer in enumerate(remaining):
            # Answers alike are interchangeable: trying one of them is enough.
            key = (answer.call.op, answer.outcome, _told(answer))
            if key in tried:
                continue
            tried.add(key)
            rest = remaining[:index] + remaining[index + 1:]
            for outcome, after in model[answer.call.op](state):
                if outcome == answer.outcome:
                    found = search(after, rest, [*trace, (answer, state, after)])
                    if found is not None:
                        return found
        return None

    return search(initial, list(answers), [])


def _told(answer: Answer) -> Any:
    if answer.outcome != "ok" or answer.call.told is None or not isinstance(answer.body, dict):
        return None
    return answer.call.told(answer.body)


def _told_truly(trace: list[tuple[Answer, State, State]], view: Callable[[State], Any]) -> bool:
    states = [after for _answer, _before, after in trace]
    for index, (answer, _before, _after) in enumerate(trace):
        told = _told(answer)
        if told is not None and told not in [view(state) for state in states[index:]]:
            return False
    return True


def _transitions(trace: list[tuple[Answer, State, State]],
                 phase: Callable[[State], Any]) -> list[tuple[Any, Any]]:
    return [(phase(before), phase(after)) for _answer, before, after in trace
            if phase(before) != phase(after)]


def assert_serializable(initial: State, model: Mapping[str, Transition],
                        answers: Sequence[Answer], final: State, *,
                        view: Callable[[State], Any] = lambda state: state,
                        trail: Sequence[tuple[str | None, str]] | None = None,
                        phase: Callable[[State], Any] | None = None) -> list[Answer]:
    """Fail unless some serial order of the requests explains their answers and ``final``
    (and the audit ``trail``, when given); returns that order."""
    assert_answered(answers)
    order = serial_order(initial, model, answers, final, view=view, trail=trail, phase=phase)
    if order is None:
        said = Counter(f"{answer}" + (f" → told {_told(answer)!r}" if _told(answer) else "")
                       for answer in answers)
        told = [f"  {count} × {line}" if count > 1 else f"  {line}"
                for line, count in said.items()]
        raise AssertionError(
            "no serial order of the requests explains what happened\n"
            + f"  from: {initial!r}\n" + "\n".join(told) + f"\n  final: {final!r}"
            + (f"\n  audit trail: {list(trail)!r}" if trail is not None else ""))
    return order


def play_rounds(play: Callable[[int], None], rounds: int = ROUNDS) -> None:
    """Play a race ``rounds`` times, each on rows of its own, checking the invariants after each;
    fail at the end with every round that went wrong (and how many did)."""
    failures: list[str] = []
    failed_rounds: set[int] = set()
    known: set[str] = set()  # problems an earlier round left behind are reported once
    for round_no in range(rounds):
        try:
            play(round_no)
        except AssertionError as error:
            failures.append(f"round {round_no}: {error}")
            failed_rounds.add(round_no)
        new = [problem for problem in invariant_problems() if problem not in known]
        known.update(new)
        if new:
            failures.append(f"round {round_no}: " + "\n".join(new))
            failed_rounds.add(round_no)
    shown = "\n".join(failures[:4]) + ("\n…" if len(failures) > 4 else "")
    assert not failures, f"{len(failed_rounds)} of {rounds} rounds went wrong:\n{shown}"


# -- what must hold whatever the requests did -----------------------------------------------------

#: Tables whose rows move through states, each transition in the audit log.
STATEFUL = (Booking, ServiceRequest, Statement)


def trail(model: type, object_id: int) -> list[tuple[str | None, str]]:
    """The recorded state changes of ``model``'s row ``object_id``, oldest first, as
    (from, to)."""
    db.session.rollback()
    return [(before, after) for before, after in db.session.execute(
        select(AuditEvent.from_state, AuditEvent.to_state)
        .where(AuditEvent.object_type == model.__tablename__, AuditEvent.object_id == object_id,
               AuditEvent.to_state.is_not(None))
        .order_by(AuditEvent.id))]


def invariant_problems() -> list[str]:
    """What is wrong anywhere in the database: a charge twice, a statement total that is not
    the sum of its lines or not what it was issued with, an audit trail that contradicts itself
    or the row's state."""
    db.session.rollback()
    return [*_double_charges(), *_statement_totals(), *_broken_trails()]


def _double_charges() -> Iterator[str]:
    for column in (Charge.booking_id, Charge.service_request_id):
        for source, count in db.session.execute(
                select(column, func.count()).where(column.is_not(None)).group_by(column)
                .having(func.count() > 1)):
            yield f"{column.key} {source} is charged {count} times"


def _statement_totals() -> Iterator[str]:
    sums = dict(db.session.execute(
        select(Charge.statement_id, func.sum(Charge.amount))
        .where(Charge.statement_id.is_not(None)).group_by(Charge.statement_id)).all())
    issued_totals: dict[int, list[Decimal | None]] = defaultdict(list)
    for object_id, details in db.session.execute(
            select(AuditEvent.object_id, AuditEvent.details)
            .where(AuditEvent.object_type == Statement.__tablename__,
                   AuditEvent.action == "issue")):
        total = details.get("total")
        issued_totals[object_id].append(None if total is None else Decimal(str(total)))
    # Columns, not objects: the test's session may hold the statements as they were.
    for statement_id, state, total in db.session.execute(
            select(Statement.id, Statement.state, Statement.total)):
        lines = Decimal(sums.get(statement_id) or 0)
        if total != lines:
            yield (f"statement {statement_id} ({state.value}): total {total} but its lines "
                   f"add up to {lines}")
        if state != StatementState.DRAFT:
            totals = issued_totals.get(statement_id, [])
            if totals != [total]:
                yield (f"statement {statement_id} ({state.value}) holds {total}; issued with "
                       f"{totals or 'no issue event'}")


def _broken_trails() -> Iterator[str]:
    for model in STATEFUL:
        states = dict(db.session.execute(select(model.id, model.state)).all())
        trails: dict[int, list[tuple[str, str | None, str]]] = defaultdict(list)
        for object_id, action, before, after in db.session.execute(
                select(AuditEvent.object_id, AuditEvent.action, AuditEvent.from_state,
                       AuditEvent.to_state)
                .where(AuditEvent.object_type == model.__tablename__,
                       AuditEvent.to_state.is_not(None))
                .order_by(AuditEvent.id)):
            trails[object_id].append((action, before, after))
        for object_id, events in trails.items():
            name = f"{model.__tablename__} {object_id}"
            for (_action, _before, after), (action, before, _after) in pairwise(events):
                if before != after:
                    yield f"{name}: {action} from {before} after a change to {after}: {events}"
            current = states.get(object_id)
            if current is not None and events[-1][2] != current.value:
                yield f"{name} is {current.value} but its trail ends in {events[-1][2]}: {events}"
