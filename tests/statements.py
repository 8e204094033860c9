"""The SQL a piece of code sends, for tests that count or read its statements."""

from __future__ import annotations

from sqlalchemy import event

from labbook.core.engine import PLANNED_EACH_TIME_OPTION
from labbook.extensions import db


class Sent:
    """The statements and the commits sent while it is entered, in order."""

    def __enter__(self) -> list[str]:
        self.sent: list[str] = []
        event.listen(db.engine, "before_cursor_execute", self._statement)
        event.listen(db.engine, "commit", self._commit)
        return self.sent

    def _statement(self, _connection, _cursor, sql, *_args) -> None:
        self.sent.append(" ".join(sql.split()))

    def _commit(self, _connection) -> None:
        self.sent.append("COMMIT")

    def __exit__(self, *_exc) -> None:
        event.remove(db.engine, "before_cursor_execute", self._statement)
        event.remove(db.engine, "commit", self._commit)


class Sums:
    """The statements that add rows up (``GROUP BY``) sent while it is entered, each with
    whether it runs planned for its own values (``core.engine.PLANNED_EACH_TIME``)."""

    def __enter__(self) -> list[tuple[str, bool]]:
        self.sums: list[tuple[str, bool]] = []
        event.listen(db.engine, "before_cursor_execute", self._statement)
        return self.sums

    def _statement(self, _connection, _cursor, sql, _parameters, context, _many) -> None:
        if "GROUP BY" in sql:
            self.sums.append((" ".join(sql.split())[:160],
                              bool(context.execution_options.get(PLANNED_EACH_TIME_OPTION))))

    def __exit__(self, *_exc) -> None:
        event.remove(db.engine, "before_cursor_execute", self._statement)
