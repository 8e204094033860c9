"""Every action and state the audit log keeps reads as words in both languages, never as the
code the log stores."""

from __future__ import annotations

import ast
import pathlib

import pytest
from flask_babel import force_locale
from sqlalchemy import Enum

import labbook
from labbook.audit.labels import (
    ACTION_LABELS,
    FIELD_LABELS,
    STATE_LABELS,
    action_label,
    detail_rows,
    state_label,
)
from labbook.core.db import Base
from labbook.orders.models import LineState, OrderState

PACKAGE = pathlib.Path(labbook.__file__).parent


def _name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _assigned(function: ast.AST, name: str) -> list[ast.expr]:
    """What ``function`` assigns to the local ``name``, unpacked tuples taken apart."""
    found = []
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            if isinstance(target, ast.Name) and target.id == name:
                found.append(node.value)
            elif isinstance(target, ast.Tuple):
                for index, element in enumerate(target.elts):
                    if isinstance(element, ast.Name) and element.id == name:
                        values = [node.value.body, node.value.orelse] \
                            if isinstance(node.value, ast.IfExp) else [node.value]
                        found.extend(value.elts[index] for value in values
                                     if isinstance(value, ast.Tuple))
    return found


def recorded_actions() -> set[str]:
    """Every action a ``record()`` call can write, following the helpers that pass an action
    through to it (``transition(…, "cancel")``, an action chosen in a local variable)."""
    modules = [(path, ast.parse(path.read_text(encoding="utf-8")))
               for path in PACKAGE.rglob("*.py")]
    parents = {}
    for _path, tree in modules:
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                for node in ast.walk(function):
                    parents.setdefault(node, function)
    # function name → (position, keyword) of the argument that becomes the recorded action
    passing = {"record": (3, "action")}
    actions: set[str] = set()
    unresolved: list[str] = []
    done: set[str] = set()
    while pending := [name for name in passing if name not in done]:
        for helper in pending:
            done.add(helper)
            position, keyword = passing[helper]
            for path, tree in modules:
                for call in ast.walk(tree):
                    if not isinstance(call, ast.Call) or _name(call) != helper:
                        continue
                    given = [kw.value for kw in call.keywords if kw.arg == keyword]
                    if not given and len(call.args) > position:
                        given = [call.args[position]]
                    if not given:
                        continue
                    expressions = given
                    while expressions:
                        expression = expressions.pop()
                        if isinstance(expression, ast.Constant) \
                                and isinstance(expression.value, str):
                            actions.add(expression.value)
                        elif isinstance(expression, ast.IfExp):
                            expressions += [expression.body, expression.orelse]
                        elif isinstance(expression, ast.Name) and call in parents:
                            function = parents[call]
                            arguments = [a.arg for a in function.args.args]
                            if expression.id in arguments:
                                passing.setdefault(function.name,
                                                   (arguments.index(expression.id),
                                                    expression.id))
                            elif assigned := _assigned(function, expression.id):
                                expressions += assigned
                            else:
                                unresolved.append(f"{path}:{call.lineno}")
                        else:
                            unresolved.append(f"{path}:{call.lineno}")
    assert not unresolved, f"actions this test cannot read: {unresolved}"
    return actions


def recorded_fields() -> set[str]:
    """The details ``record()`` calls keep, by their keyword names."""
    kept_apart = {"at", "from_state", "to_state", "note", "changes", "old", "new", "values",
                  "old_amount", "new_amount"}
    fields = set()
    for path in PACKAGE.rglob("*.py"):
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(call, ast.Call) and _name(call) == "record" and len(call.args) >= 4:
                fields |= {keyword.arg for keyword in call.keywords
                           if keyword.arg and keyword.arg not in kept_apart}
    return fields


def test_every_recorded_detail_has_a_label():
    assert sorted(recorded_fields() - FIELD_LABELS.keys()) == []


@pytest.mark.parametrize(("locale", "expected"), [
    ("zh_CN", ["发票种类: 普通发票", "形式: 电子", "金额: ¥88.00"]),
    ("en", ["Kind of invoice: Ordinary invoice (普通发票)", "Medium: Electronic",
            "Amount: ¥88.00"]),
])
def test_an_invoices_details_read_in_the_page_language(app, locale, expected):
    with app.test_request_context(), force_locale(locale):
        rows = detail_rows("invoices", {"kind": "ordinary", "medium": "electronic",
                                        "amount": "88.00"}, {})
        assert [f"{row.label}: {row.value}" for row in rows] == expected


@pytest.mark.parametrize(("locale", "expected"), [
    ("zh_CN", ["时长（分钟）: 60", "通道: 2"]), ("en", ["Length (minutes): 60", "Channels: 2"])])
def test_a_waiting_list_entry_s_channels_are_the_instrument_s_not_message_channels(
        app, locale, expected):
    with app.test_request_context(), force_locale(locale):
        rows = detail_rows("waitlist_entries", {"minutes": 60, "channels": 2}, {})
        assert [f"{row.label}: {row.value}" for row in rows] == expected


def test_the_scan_follows_helpers_and_local_choices():
    actions = recorded_actions()
    # straight calls, a booking's transition(), an enrolment's helper, a tuple chosen by if
    assert {"request", "cancel", "check_in", "lapse", "approve", "reject"} <= actions


def test_every_recorded_action_has_a_label():
    assert sorted(recorded_actions() - ACTION_LABELS.keys()) == []


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_action_label_is_translated(app, locale):
    with app.test_request_context(), force_locale(locale):
        for action in ACTION_LABELS:
            label = action_label(action)
            assert label and label != action, action
            if locale == "zh_CN":
                assert not label.isascii(), (action, label)


def _state_enums() -> dict[str, type]:
    """Each table's state (or status) enum, by the table's name as the log keeps it."""
    found = {}
    for mapper in Base.registry.mappers:
        for column in mapper.local_table.columns:
            if column.name in ("state", "status") and isinstance(column.type, Enum) \
                    and column.type.enum_class is not None:
                found[mapper.local_table.name] = column.type.enum_class
    return found


#: Tables whose rows' states the log never records on them.
NOT_RECORDED = {"outbox_messages", "order_lines"}


def test_every_state_of_every_recorded_kind_has_a_label():
    missing = [(table, member.value) for table, enum in _state_enums().items()
               if table not in NOT_RECORDED for member in enum
               if member.value not in STATE_LABELS.get(table, {})]
    assert missing == []


@pytest.mark.parametrize(("locale", "expected"), [
    ("zh_CN", ["待开具", "已出具", "已拒绝", "已红冲"]),
    ("en", ["Requested", "Issued", "Refused", "Reversed (red-letter)"]),
])
def test_invoice_states_read_in_the_page_language(app, locale, expected):
    with app.test_request_context(), force_locale(locale):
        assert [state_label("invoices", state)
                for state in ("requested", "issued", "refused", "reversed")] == expected


@pytest.mark.parametrize(("locale", "received", "in_progress", "completed"), [
    ("zh_CN", "已收样", "检测中", "已完成"),
    ("en", "Samples received", "In progress", "Completed"),
])
def test_line_states_recorded_on_an_order_read_as_line_states(app, locale, received,
                                                              in_progress, completed):
    with app.test_request_context(), force_locale(locale):
        assert state_label("orders", LineState.RECEIVED.value, "start_line") == received
        assert state_label("orders", LineState.IN_PROGRESS.value, "start_line") == in_progress
        assert state_label("orders", LineState.COMPLETED.value, "complete_line") == completed
        assert state_label("orders", OrderState.COMPLETED.value, "complete") \
            != state_label("orders", LineState.COMPLETED.value, "complete_line")
