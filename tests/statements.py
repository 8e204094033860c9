"""The SQL a piece of code sends, for tests that count or read its statements."""

from __future__ import annotations

from sqlalchemy import event

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
