"""A login's rows, written in one statement.

Every login writes the same rows: the user's last-login time (Django's receiver on
``user_logged_in``), the login's audit event (``accounts.receivers``) and the session's row
for the sessions page (``accounts.user_sessions``). Written each through the ORM, they cost
three round trips to the database and three passes through the ORM's save, on the path every
password login waits for. Inside ``together()`` (``AccountAdapter.login``, which every way in
ends in) they are gathered instead and written at the end of the block, in the login's
transaction: on PostgreSQL as one statement (the UPDATE and the first INSERTs as
data-modifying ``WITH`` parts of the last INSERT), elsewhere (SQLite) one plain statement each.
A login outside the block (Django's ``login()`` called directly, as ``force_login`` does)
writes each row at once, as before.

The provider writes its token rows the same way: a client-credentials token with its audit
event through ``write``, and the refresh grant's rotation through ``insert_select`` (rows
written only if an earlier part of the same statement wrote its own: provider/validator/
refresh.py).
"""

from __future__ import annotations

import contextvars
import functools
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import signals as auth_signals
from django.db import connection, models
from django.db.models.fields import NOT_PROVIDED, AutoFieldMixin
from django.utils import timezone

from audit.services import collected


@dataclass
class _Pending:
    last_login: Any = None  # the user whose last_login is to be written
    rows: list[models.Model] = field(default_factory=list)


_pending: contextvars.ContextVar[_Pending | None] = contextvars.ContextVar(
    "gatehouse_login_writes", default=None
)


@contextmanager
def together() -> Iterator[None]:
    """Gather the login's rows (and every audit event recorded meanwhile) and write them when
    the block ends. Use inside the login's transaction: if the block raises, nothing of it is
    written."""
    pending = _Pending()
    token = _pending.set(pending)
    try:
        with collected() as events:
            yield
    finally:
        _pending.reset(token)
    write(last_login=pending.last_login, rows=[*events, *pending.rows])


def save_last_login(user: Any) -> None:
    """Write ``user.last_login``: with the login's other rows inside ``together()``, at once
    (as Django's own receiver does) outside it."""
    pending = _pending.get()
    if pending is None:
        user.save(update_fields=["last_login"])
    else:
        pending.last_login = user


def _record_last_login(sender: Any, user: Any, **kwargs: Any) -> None:
    """Django's ``update_last_login`` receiver, writing with the login's other rows."""
    user.last_login = timezone.now()
    save_last_login(user)


def install() -> None:
    """Put ``_record_last_login`` in the place of Django's receiver (AccountsConfig.ready)."""
    auth_signals.user_logged_in.disconnect(dispatch_uid="update_last_login")
    auth_signals.user_logged_in.connect(_record_last_login, dispatch_uid="gatehouse_last_login")


def add_row(row: models.Model) -> None:
    """Insert ``row`` (a new model instance): with the login's other rows inside
    ``together()``, at once outside it."""
    pending = _pending.get()
    if pending is None:
        row.save(force_insert=True)
    else:
        pending.rows.append(row)


def write(*, last_login: Any, rows: Sequence[models.Model]) -> None:
    """Set ``last_login.last_login`` (a user, or None) and insert ``rows``, in one statement
    where the database allows it."""
    parts = [_insert_sql(group) for group in _by_model(rows)]
    if last_login is not None:
        parts.insert(0, _update_last_login_sql(last_login))
    if not parts:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(*_one_statement(parts))
        else:
            for sql, params in parts:
                cursor.execute(sql, params)
    for row in rows:
        row._state.adding = False
        row._state.db = connection.alias


def _by_model(rows: Sequence[models.Model]) -> list[list[models.Model]]:
    groups: dict[type[models.Model], list[models.Model]] = {}
    for row in rows:
        groups.setdefault(type(row), []).append(row)
    return list(groups.values())


def _one_statement(parts: list[tuple[str, list[Any]]]) -> tuple[str, list[Any]]:
    """``parts`` as one statement: all but the last as data-modifying WITH queries, which
    PostgreSQL runs to completion whether or not the last part reads them."""
    *first, (last_sql, last_params) = parts
    if not first:
        return last_sql, last_params
    ctes = ", ".join(f"write_{i} AS ({sql})" for i, (sql, _) in enumerate(first))
    params = [param for _, part_params in first for param in part_params]
    return f"WITH {ctes} {last_sql}", [*params, *last_params]


def _update_last_login_sql(user: Any) -> tuple[str, list[Any]]:
    meta = user._meta
    field, pk = meta.get_field("last_login"), meta.pk
    return _update_template(meta.db_table, field.column, pk.column), [
        field.get_db_prep_save(user.last_login, connection),
        pk.get_db_prep_save(user.pk, connection),
    ]


@functools.cache
def _update_template(table: str, column: str, pk: str) -> str:
    quote = connection.ops.quote_name
    return f"UPDATE {quote(table)} SET {quote(column)} = %s WHERE {quote(pk)} = %s"  # noqa: S608


def _insert_sql(rows: list[models.Model]) -> tuple[str, list[Any]]:
    """One INSERT of new rows of one model, with each value prepared as the ORM's save would
    (``pre_save`` for defaults such as ``auto_now_add``, then ``get_db_prep_save``)."""
    sql, fields = _insert_template(type(rows[0]), len(rows))
    params = [
        f.get_db_prep_save(f.pre_save(row, add=True), connection) for row in rows for f in fields
    ]
    return sql, params


def insert_select(
    row: models.Model, *, source: str, links: Mapping[str, str]
) -> tuple[str, list[Any]]:
    """An INSERT of ``row`` written as ``INSERT ... SELECT ... FROM source``, for a part of a
    statement that writes ``row`` only if an earlier part wrote something: ``source`` names
    the earlier parts (WITH queries), and ``links`` gives the columns whose value comes from
    them (``{"access_token_id": "access.id"}``). Each other value is a parameter, prepared as
    the ORM's save would; a SELECT list gives a parameter no type, so each is cast to its
    column's type (without a length: the column itself still refuses what is too long)."""
    sql, fields = _select_template(type(row), source, tuple(sorted(links.items())))
    params = [f.get_db_prep_save(f.pre_save(row, add=True), connection) for f in fields]
    return sql, params


@functools.cache
def _select_template(
    model: type[models.Model], source: str, links: tuple[tuple[str, str], ...]
) -> tuple[str, tuple[Any, ...]]:
    # Only names from the model's metadata and the caller's constant links go into the text.
    linked = dict(links)
    meta, quote = model._meta, connection.ops.quote_name
    all_fields = _insert_template(model, 1)[1]
    values = [
        linked[f.column] if f.column in linked else f"%s::{_cast_type(f)}" for f in all_fields
    ]
    columns = ", ".join(quote(str(f.column)) for f in all_fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {source}"
    )
    return sql, tuple(f for f in all_fields if f.column not in linked)


def _cast_type(f: Any) -> str:
    db_type = f.db_type(connection) or "text"
    return re.sub(r"\(\d+(,\s*\d+)?\)", "", db_type)


@functools.cache
def _insert_template(model: type[models.Model], count: int) -> tuple[str, tuple[Any, ...]]:
    # Only names from the model's own metadata go into the text; values are parameters.
    meta, quote = model._meta, connection.ops.quote_name
    # Columns the database fills itself are left out: a generated column, an automatic key,
    # and one with a database default (the transaction id of the outbox and the audit log,
    # events/db.py), whose value the ORM hands over as a marker no driver can send.
    fields = tuple(
        f
        for f in meta.local_concrete_fields
        if not isinstance(f, AutoFieldMixin)
        and not getattr(f, "generated", False)
        and f.db_default is NOT_PROVIDED
    )
    columns = ", ".join(quote(str(f.column)) for f in fields)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES {', '.join([one_row] * count)}"
    )
    return sql, fields
