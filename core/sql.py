"""Compiled queries: the SQL of an ORM queryset built once per process, then run with parameters.

Building a queryset and compiling it costs far more than running it on the hot reads: a cold
page-shaped read spent ~7 ms in Django's query construction (~70 `setup_joins` per query)
around ~0.5 ms of PostgreSQL (README "Known costs"). A `CompiledQuery` keeps the queryset as
the one definition (model fields, the role rules of `permissions.py` as Q objects) and pays
its compilation once per *shape*: its builder is called with placeholder parameters, the
compiler's SQL and parameter list are kept, and each later call passes the real values with
the same SQL text on a cursor Django wraps like its own (so query counting, timeouts and
Server-Timing see it like any ORM query). Rows come back as tuples, or dicts keyed like
`.values()`, through the same converters the ORM applies (a JSON column is decoded, …).

Design decisions:
- Placeholders are recognizable values (integers near 2**31, aware datetimes in 1901, text
  with a marker), found in the compiled parameter list by value. A placeholder that the ORM
  transformed (e.g. wrapped in `%…%` by `contains`) fails compilation loudly; use the `like`
  lookup below with a pattern built by the caller instead.
- What changes the SQL text (a role's visibility rule, an optional filter, LIMIT/OFFSET,
  which Django inlines) is the *shape*: a hashable key passed to the builder. Each shape is
  compiled once; at most `max_shapes` are kept per query (least recently used dropped).
- Lists are one array parameter (`field__any=[…]` → `= ANY(%s)`), so the SQL text does not
  depend on their length.
- Parameters are bound on the server (`server_bound_cursor`) and the statements prepared
  (`_prepared`) where the connection allows it: not under PgBouncer in transaction mode, and
  not for shapes whose best plan depends on the values (`prepare=`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.backends.postgresql.psycopg_any import register_tzloader
from django.db.models import Field, ForeignObject, Lookup, QuerySet
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader

from core.errors import Unprocessable, detail
from core.pagination import INVALID_CURSOR, cursor_decode

_INT_BASE = 2_000_000_000  # inside int4, so integer-range checks of lookups keep the value
_TEXT_MARK = "\x00core.sql:"
_DATETIME_BASE = dt.datetime(1901, 1, 1, tzinfo=dt.UTC)


class _ParameterLookup(Lookup):
    """A lookup whose right-hand side is one parameter passed as given (no per-item
    placeholders, no wildcard escaping), so a compiled query's SQL text stays the same
    whatever the value. `template` places the two sides."""

    prepare_rhs = False
    template = ""

    def get_db_prep_lookup(self, value, connection):
        return ("%s", [value])

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return self.template.format(lhs=lhs, rhs=rhs), [*lhs_params, *rhs_params]


@Field.register_lookup
class AnyLookup(_ParameterLookup):
    """`field__any=[…]`: `field = ANY(%s)` with the list as one array parameter, so the SQL is
    the same text whatever the list's length (an `IN (%s, %s, …)` is not)."""

    lookup_name = "any"
    template = "{lhs} = ANY({rhs})"


@Field.register_lookup
class LikeLookup(_ParameterLookup):
    """`field__like=pattern`: `field LIKE %s` with the pattern as given (the caller escapes
    `%`, `_` and `\\` of user input with `like_escape`). Unlike `contains`, it leaves the
    parameter as passed, so a compiled query can take the pattern as a parameter."""

    lookup_name = "like"
    template = "{lhs} LIKE {rhs}"


# Relations keep their own lookup table (related lookups take model instances): ids here.
ForeignObject.register_lookup(AnyLookup)


def like_escape(term: str) -> str:
    """`term` with the LIKE wildcards escaped (PostgreSQL's default escape character `\\`)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Params:
    """What a builder receives: `p.name` is an integer placeholder, `p.at("name")` a datetime
    one, `p.text("name")` a text one. Each name maps to one value at run time."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._names: dict[Any, str] = {}
        self._counter = itertools.count(1)

    def _placeholder(self, name: str, make: Callable[[int], Any]) -> Any:
        if name not in self._values:
            value = make(next(self._counter))
            self._values[name], self._names[value] = value, name
        return self._values[name]

    def __getattr__(self, name: str) -> int:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._placeholder(name, lambda n: _INT_BASE + n)

    def at(self, name: str) -> dt.datetime:
        return self._placeholder(name, lambda n: _DATETIME_BASE + dt.timedelta(seconds=n))

    def text(self, name: str) -> str:
        return self._placeholder(name, lambda n: f"{_TEXT_MARK}{n}")

    def name_of(self, value: Any) -> str | None:
        try:
            return self._names.get(value)
        except TypeError:  # unhashable (a list parameter of a constant)
            return None


def _looks_placeholder(value: Any) -> bool:
    """A compiled parameter made from a placeholder but no longer equal to it. A placeholder
    the builder asked for but did not use (a rule that needs no actor id) is simply absent."""
    if isinstance(value, str):
        return _TEXT_MARK in value
    if isinstance(value, dt.datetime):
        return value.year == _DATETIME_BASE.year
    return isinstance(value, int) and _INT_BASE < value < _INT_BASE + 10_000


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    slots: tuple[tuple[str | None, Any], ...]  # (parameter name, or None and a constant)
    names: tuple[str, ...]  # column names, as `.values()` names them
    converters: tuple[tuple[int, tuple[Callable, ...], Any], ...]
    model: Any  # whose reads the routers place (core.replica)


class CompiledQuery:
    """A queryset, compiled once per shape, run with parameters.

    `build(p, *shape)` returns a queryset (usually `.values(...)`) written with the
    placeholders of `p`; `rows(shape, **params)` and `dicts(shape, **params)` run it, on
    `using` or, by default, where the routers send reads of its model (as a queryset would:
    the read replica inside a page build, core.replica).
    """

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *,
        using: str | None = None,
        max_shapes: int = 256,
        prepare: bool | Callable[..., bool] = True,
    ):
        """`prepare` (or a function of the shape): run as a server-side prepared statement
        where the connection allows it (`_prepared`); off where a generic plan would be wrong
        for some values (a LIKE pattern: the trigram indexes serve only some)."""
        self._build = build
        self._prepare = prepare
        self._using = using
        self._max_shapes = max_shapes
        self._shapes: OrderedDict[Hashable, _Compiled] = OrderedDict()
        self._lock = threading.Lock()

    def compiled(self, shape: tuple = ()) -> _Compiled:
        found = self._shapes.get(shape)
        if found is not None:
            return found
        compiled = self._compile(shape)
        with self._lock:
            self._shapes[shape] = compiled
            while len(self._shapes) > self._max_shapes:
                self._shapes.popitem(last=False)
        return compiled

    def _compile(self, shape: tuple) -> _Compiled:
        params = Params()
        queryset = self._build(params, *shape)
        query = queryset.query
        compiler = query.get_compiler(using=self._using or DEFAULT_DB_ALIAS)
        sql, values = compiler.as_sql()
        slots = tuple((params.name_of(value), value) for value in values)
        altered = [value for name, value in slots if name is None and _looks_placeholder(value)]
        if altered:  # the ORM rewrote a placeholder (e.g. `contains` wraps it in %…%)
            raise ValueError(f"placeholders altered by the ORM: {altered!r}")
        if query.selected:
            names = tuple(query.selected)
        else:
            names = (*query.extra_select, *query.values_select, *query.annotation_select)
        expressions = [col for col, _, _ in compiler.select[: compiler.col_count]]
        converters = tuple(
            (position, tuple(functions), expression)
            for position, (functions, expression) in compiler.get_converters(expressions).items()
        )
        return _Compiled(
            sql=sql, slots=slots, names=names, converters=converters, model=query.model
        )

    def rows(self, shape: tuple = (), **params: Any) -> list[tuple]:
        compiled = self.compiled(shape)
        arguments = [params[name] if name else value for name, value in compiled.slots]
        connection = connections[self._using or router.db_for_read(compiled.model)]
        prepare = self._prepare(*shape) if callable(self._prepare) else self._prepare
        with server_bound_cursor(connection) as cursor, _prepared(connection, prepare):
            cursor.execute(compiled.sql, arguments)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for position, functions, expression in compiled.converters:
                value = row[position]
                for function in functions:
                    value = function(value, expression, connection)
                row[position] = value
            converted.append(tuple(row))
        return converted

    def dicts(self, shape: tuple = (), **params: Any) -> list[dict[str, Any]]:
        names = self.compiled(shape).names
        return [dict(zip(names, row, strict=True)) for row in self.rows(shape, **params)]


_TIMESTAMPTZ_OID = 1184


class _ServerBoundCursor(psycopg.Cursor):
    """psycopg's server-binding cursor, keeping the statement where Django's query log reads
    it (`last_executed_query` reads `_query`, which psycopg leaves unset when it runs an
    already prepared statement; psycopg is pinned)."""

    def _maybe_prepare_gen(self, pgq, *, prepare=None, binary=None):
        self._query = pgq
        return (yield from super()._maybe_prepare_gen(pgq, prepare=prepare, binary=binary))


def server_bound_cursor(connection):
    """A cursor of `connection` that sends the parameters apart from the SQL text (psycopg's
    server-side binding: what a prepared statement needs), wrapped as Django wraps its own
    (query counting, execute wrappers, the debug log). Django's default cursor quotes the
    parameters into the text instead (client-side binding), and cannot prepare."""
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = _ServerBoundCursor(connection.connection)
        if _session_in_utc(connection):
            # psycopg's own loader, in C: Django's (a Python subclass that then swaps the
            # tzinfo) cost ~2 µs a value, 0.2 ms a 100-row page. Same value in a UTC session.
            cursor.adapters.register_loader(_TIMESTAMPTZ_OID, TimestamptzLoader)
        else:  # as Django's create_cursor: the cursor's timezone when the connection's differs
            loader = connection.connection.adapters.get_loader(_TIMESTAMPTZ_OID, Format.TEXT)
            if connection.timezone != loader.timezone:
                register_tzloader(connection.timezone, cursor)
        return connection._prepare_cursor(cursor)


def _session_in_utc(connection) -> bool:
    """Whether the session's TimeZone is UTC and Django wants aware UTC datetimes."""
    return connection.timezone is dt.UTC and (
        connection.connection.pgconn.parameter_status(b"TimeZone") in (b"UTC", b"Etc/UTC")
    )


@contextmanager
def _prepared(connection, prepare: bool) -> Iterator[None]:
    """Statements executed in the block are prepared on the server (psycopg names them and
    reuses the name for the same SQL text on this connection): parsing and planning cost more
    than running these reads (measured at the reference size, a round trip each: the goal
    list's owner and goals queries 0.42 and 1.0 ms, prepared 0.15 and 0.56 ms).

    Django opens psycopg connections with `prepare_threshold=None` (nothing prepared), which
    keeps connection poolers working; the threshold is lowered only around these statements,
    so no other query is prepared. Under PgBouncer in transaction mode a statement prepared on
    one server connection is unknown on the next: nothing is prepared when the settings say
    so (`DB_PGBOUNCER`: `OPTIONS["prepare_threshold"] = None`, `DISABLE_SERVER_SIDE_CURSORS`).
    """
    settings_dict = connection.settings_dict
    options = settings_dict.get("OPTIONS", {})
    behind_bouncer = ("prepare_threshold" in options and options["prepare_threshold"] is None) or (
        settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
    )
    raw = connection.connection
    if not prepare or behind_bouncer or raw is None:
        yield
        return
    previous = raw.prepare_threshold
    raw.prepare_threshold = 0
    try:
        yield
    finally:
        raw.prepare_threshold = previous


def shape_of(values: Sequence[Any]) -> tuple:
    """Which of `values` are given (not None): the part of a shape that optional filters make."""
    return tuple(value is not None for value in values)


def cursor_values(cursor: str, fields: Sequence[Field]) -> list[Any]:
    """The sort-key values a keyset cursor holds, as `fields` store them: what the ORM would
    make of them in a filter, checked here because a compiled query passes them straight to
    PostgreSQL. A value that is not one of its field's (or null) is a 422 on the cursor."""
    values = cursor_decode(cursor, len(fields))
    try:
        typed = [field.to_python(value) for field, value in zip(fields, values, strict=True)]
    except (ValidationError, ValueError, TypeError) as exc:
        raise Unprocessable(details=[detail(["query", "cursor"], INVALID_CURSOR)]) from exc
    if any(value is None for value in typed):
        raise Unprocessable(details=[detail(["query", "cursor"], INVALID_CURSOR)])
    return [
        value.replace(tzinfo=dt.UTC)
        if isinstance(value, dt.datetime) and value.tzinfo is None
        else value
        for value in typed
    ]
