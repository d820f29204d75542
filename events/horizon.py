"""Reading rows in commit order without missing one (docs/events.md, section 0 item 2, T1).

Ids and sequence values are handed out when a row is written, not when its transaction
commits: a transaction that wrote first may commit last, so ``id > last id seen`` loses its
rows for ever. On PostgreSQL each row carries its transaction's id (``txid``), and a reader
takes only rows whose transaction is older than every transaction still running (the
*horizon*, ``pg_snapshot_xmin``): all of those have ended, so no row can later appear below
a cursor. Rows are taken in ``(txid, id)`` order and the cursor is that pair.

SQLite (embedded mode) lets one transaction write at a time, so the order rows were written
in is the order they committed: there the cursor is the id alone and there is no horizon.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, models

Cursor = tuple[int, int]  # (txid, id); txid is 0 on SQLite
START: Cursor = (0, 0)


def ordered_by_commit() -> bool:
    """Whether this database gives rows a transaction id to order by (PostgreSQL)."""
    return connection.vendor == "postgresql"


def current_horizon() -> int | None:
    """The oldest transaction id still running anywhere on the cluster: rows with a smaller
    txid are committed or gone for good. None where there is no horizon (SQLite)."""
    if not ordered_by_commit():
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
        return int(cursor.fetchone()[0])


def after(queryset: models.QuerySet[Any], cursor: Cursor, horizon: int | None) -> Any:
    """``queryset`` narrowed to the rows after ``cursor`` that are safe to hand out, in commit
    order. ``horizon`` is ``current_horizon()``, taken once per read."""
    txid, last_id = cursor
    if horizon is None:
        return queryset.filter(id__gt=last_id).order_by("id")
    return (
        queryset.filter(txid__lt=horizon)
        .filter(models.Q(txid__gt=txid) | models.Q(txid=txid, id__gt=last_id))
        .order_by("txid", "id")
    )


def position(row: Any) -> Cursor:
    """The cursor just after ``row``."""
    return (int(row.txid or 0), int(row.id))
