"""The hottest statements (reads, and the writes of a booking, a move and an audit event) run
straight on the database driver's cursor.

SQLAlchemy's execution of a Core statement costs some 20 µs of Python besides the driver's own
work, whatever the statement: the compiled cache looked up, an execution context and a result
object built, the parameters and every row handed through several layers. The requests run most
often (every API request's token, a booking's instrument, organization and calendar, a refusal's
suggestions, a week's availability) run three to six such statements each, and that came to a
tenth of their work. ``fetch`` runs a statement compiled once per dialect straight on the
connection's driver cursor, and keeps what matters of SQLAlchemy's execution: the types'
processing of the parameters and of the results (aware UTC times, enums, money), the
``before_cursor_execute`` and ``after_cursor_execute`` events (statement counts, the notes of
``core.engine``), the transaction begun as ``Connection.execute`` begins it, and driver errors
raised as SQLAlchemy raises them (a lost connection invalidated). What it leaves out: SQL
echoing, and rewriting a statement in an event (no listener of labbook's does either).

The statements of one database connection run on one cursor, kept with the connection for as
long as it lives (a failed statement's cursor is closed and the next gets a new one): psycopg
makes each new cursor a copy of its connection's adapters, some 2 % of a PostgreSQL request.

For SELECT statements, and INSERTs and UPDATEs of a table's columns, whose parameters are bound
one by one
(``bindparam``), not lists (``expanding``), and which leave no column to a default worked out
in Python: anything else is refused when it is first compiled.
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql import Insert, Select, Update
from sqlalchemy.sql.selectable import CompoundSelect

Processor = Callable[[Any], Any] | None
#: What ``fetch`` runs: a read, or an INSERT or UPDATE (with RETURNING for what it gives back).
Statement = Select[Any] | CompoundSelect | Insert | Update
#: A row ``fetch`` read: a tuple whose fields are named after the statement's columns (as a
#: SQLAlchemy ``Row``'s are).
FetchedRow = Any


class _Compiled:
    """A statement compiled for one dialect, with the processing of its parameters and of its
    result columns (the latter from the first result's description, as SQLAlchemy takes it:
    on PostgreSQL a numeric column's processing depends on the type the server says it is)."""

    def __init__(self, statement: Statement, dialect: Dialect,
                 column_keys: Sequence[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        if compiled.post_compile_params or compiled.literal_execute_params \
                or compiled.escaped_bind_names:
            raise ValueError("fetch takes statements whose parameters are bound one by one "
                             f"under plain names: {compiled.string}")
        prefetched = [*compiled.insert_prefetch, *compiled.update_prefetch]
        if prefetched:
            # Their values SQLAlchemy's execution works out, which fetch does not.
            raise ValueError("fetch writes no column left to a default worked out in Python: "
                             f"{[column.key for column in prefetched]}")
        self.sql = compiled.string
        self.positional = compiled.positional
        # The parameters by the names the statement's text gives them.
        binds = {name: bind for bind, name in compiled.bind_names.items()}
        names = tuple(compiled.positiontup) if compiled.positional else tuple(binds)
        # Each parameter processed once, however often the statement uses it (a calendar
        # read binds its window's start and end in every part of a UNION).
        distinct = tuple(dict.fromkeys(names))
        self.parameters: tuple[tuple[str, Processor], ...] = tuple(
            (name, binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in distinct)
        #: Where a positional statement uses a parameter more than once, the order of its
        #: places (else they are those of ``parameters``).
        self.places = names if len(distinct) < len(names) else None
        #: The values written into the statement (a comparison with a constant).
        self.constants = {name: bind.effective_value for name, bind in binds.items()
                          if not bind.required}
        # What it reads, or what a write returns: its RETURNING, or for an INSERT without one
        # on PostgreSQL the primary key, which SQLAlchemy's compiler asks back as it does for
        # its own execution (and nothing on SQLite).
        self.columns = tuple(compiled.effective_returning or ()) \
            if isinstance(statement, Insert | Update) else tuple(statement.exported_columns)
        # A named tuple of the statement's own columns, made once per statement.
        self.row = namedtuple(  # type: ignore[misc]
            "Row", [column.key or f"column_{n}"
                    for n, column in enumerate(self.columns)], rename=True)
        self.results: tuple[Processor, ...] | None = None
        self.dialect = dialect

    def arguments(self, parameters: dict[str, Any]) -> tuple[Any, ...] | dict[str, Any]:
        """The driver's parameters, as SQLAlchemy hands them to it: each value processed by its
        type, in a tuple in the statement's order (or by name, where the driver binds by
        name)."""
        values = {**self.constants, **parameters}
        processed = {name: values[name] if process is None else process(values[name])
                     for name, process in self.parameters}
        if not self.positional:
            return processed
        if self.places is None:
            return tuple(processed.values())
        return tuple([processed[name] for name in self.places])

    def result_processors(self, description: Sequence[Sequence[Any]] | None
                          ) -> tuple[Processor, ...]:
        """The processing of each result column, worked out from the first result's
        ``description`` (None for a statement that returns no rows)."""
        if description is None:
            self.results = ()
        elif self.results is None:
            self.results = tuple(
                column.type.dialect_impl(self.dialect).result_processor(self.dialect, entry[1])
                for column, entry in zip(self.columns, description, strict=True))
        return self.results


#: Per dialect (one an engine), the statements compiled for it.
_compiled: WeakKeyDictionary[Dialect, dict[Any, _Compiled]] = WeakKeyDictionary()
_compiling = threading.Lock()


def _compiled_for(statement: Statement, dialect: Dialect,
                  parameters: dict[str, Any] | None = None) -> _Compiled:
    # An INSERT or UPDATE is compiled for the columns it is given (as SQLAlchemy compiles it
    # for the keys of its parameters): one text per set of them.
    column_keys = tuple(parameters) if isinstance(statement, Insert | Update) else None
    key = statement if column_keys is None else (statement, column_keys)
    known = _compiled.get(dialect)
    found = None if known is None else known.get(key)
    if found is None:
        with _compiling:
            found = _Compiled(statement, dialect, column_keys)
            _compiled.setdefault(dialect, {})[key] = found
    return found


def fetch(on: Session | scoped_session | Connection, statement: Statement,
          parameters: dict[str, Any]) -> list[FetchedRow]:
    """Every row ``statement`` reads with ``parameters`` (or a write returns), as
    ``execute(statement, parameters).all()`` reads them: the same values, in tuples whose
    fields are named after the columns. ``on`` a session, the statement runs on its connection
    once what waits to be flushed is flushed, as a statement the session runs sees it (unless
    inside ``no_autoflush``). An INSERT or UPDATE gives a value for every column that has a
    default (or an update's default) worked out in Python, else it is refused."""
    if isinstance(on, Connection):
        connection = on
    else:
        if on.autoflush:
            on.flush()
        connection = on.connection()
    compiled = _compiled_for(statement, connection.dialect, parameters)
    arguments = compiled.arguments(parameters)
    if not connection.in_transaction():
        connection.begin()  # as Connection.execute would begin it
    pooled = connection.connection
    cursor = pooled.info.get(_CURSOR)
    if cursor is None:
        cursor = pooled.info[_CURSOR] = pooled.cursor()
    dispatch = connection.dispatch
    try:
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, compiled.sql, arguments, None,
                                           False)
        cursor.execute(compiled.sql, arguments)
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, compiled.sql, arguments, None,
                                          False)
        # The description is read once per statement: psycopg makes it anew on every look.
        fetched = cursor.fetchall() if compiled.columns else []
        processors = compiled.results if compiled.results is not None \
            else compiled.result_processors(cursor.description if compiled.columns else None)
    except BaseException as error:
        # SQLAlchemy's own handling of a failed statement: the driver's error raised as its
        # subclass of DBAPIError, a lost connection invalidated, the cursor closed.
        pooled.info.pop(_CURSOR, None)
        connection._handle_dbapi_exception(error, compiled.sql, arguments, cursor, None)
    make = compiled.row._make
    if not any(processors):
        return [make(row) for row in fetched]
    return [make([value if process is None else process(value)
                  for process, value in zip(processors, row, strict=True)])
            for row in fetched]


#: Key of the connection's cursor in its ``info`` (kept for as long as the DBAPI connection).
_CURSOR = "labbook_fetch_cursor"


def run(on: Session | scoped_session | Connection, statement: Insert | Update,
        parameters: dict[str, Any]) -> None:
    """Run a write that returns nothing (an audit event), as ``fetch`` runs one."""
    fetch(on, statement, parameters)
