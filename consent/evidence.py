"""The only ways consent evidence changes after it is written: erasure and retention.

Consent events are append-only (the ORM refuses updates and deletes, consent.models). In
production the application's database role may not update or delete them either
(audit/db_roles.py); on PostgreSQL each function here calls one the owner role holds (consent
migration 0008), which checks its arguments. SQLite, the embedded mode, has no roles: the same
changes are made through the ORM, past its guard.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from django.db import connection, models

from accounts.models import User
from consent.models import ConsentEvent, ConsentState


def _call(function: str, *args: Any) -> int:
    placeholders = ", ".join(["%s"] * len(args))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}({placeholders})", list(args))
        return int(cursor.fetchone()[0])


def rewrite_recorders(pseudonym: str, updates: Iterable[tuple[Any, Mapping[str, Any]]]) -> int:
    """Replace who recorded consent events (``actor_text``, the only column allowed), for the
    erasure under way with ``pseudonym``; the events must be ones the person recorded."""
    rows: list[tuple[int, str]] = []
    for event_id, columns in updates:
        if set(columns) != {"actor_text"}:
            raise ValueError("erasure changes only actor_text of a consent event")
        rows.append((int(event_id), str(columns["actor_text"])))
    if not rows:
        return 0
    if connection.vendor == "postgresql":
        changes = [{"id": pk, "actor_text": text} for pk, text in rows]
        return _call("gatehouse_erase_consent_actor", pseudonym, json.dumps(changes))
    for pk, text in rows:
        models.QuerySet.update(ConsentEvent.objects.filter(pk=pk), actor_text=text)
    return len(rows)


def clear_origins(*, user: User, pseudonym: str) -> int:
    """Clear the IP address and browser of every consent event of ``user``, whose erasure is
    under way with ``pseudonym``. Returns how many events are kept this way."""
    if connection.vendor == "postgresql":
        return _call("gatehouse_erase_consent_origin", pseudonym)
    events = ConsentEvent.objects.filter(user=user)
    return models.QuerySet.update(events, ip=None, user_agent="")


def purge_erased(*, cutoff: datetime, batch: int) -> int:
    """Delete up to ``batch`` consent events of people erased before ``cutoff``. Returns how
    many were deleted (fewer than ``batch``: none are left)."""
    if connection.vendor == "postgresql":
        return _call("gatehouse_purge_consent_evidence", cutoff, batch)
    ids = list(
        ConsentEvent.objects.filter(user__erased_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:batch]
    )
    if not ids:
        return 0
    ConsentState.objects.filter(event_id__in=ids).delete()
    doomed = ConsentEvent.objects.filter(pk__in=ids)
    return int(doomed._raw_delete(doomed.db))
