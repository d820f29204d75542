"""The writing transaction's id, filled in by the database (docs/events.md, the horizon).

``CurrentTxid`` is the column default of ``txid`` on ``events.Event`` and ``audit.AuditEvent``.
On PostgreSQL it is ``pg_current_xact_id()`` as a bigint: the top-level transaction's id, the
same inside savepoints, so readers can order rows by the transaction that wrote them and stop
at the oldest transaction still running. SQLite has one writer at a time and orders by rowid
instead, so there the column stays NULL.
"""

from __future__ import annotations

from typing import Any

from django.db import models


class CurrentTxid(models.Func):
    output_field = models.BigIntegerField()
    template = "NULL"

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        return "pg_current_xact_id()::text::bigint", []
