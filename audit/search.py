"""Reading the audit log at scale: filters, the actor search, and keyset pages.

Every query here is answered by an index (audit migration 0017), so a page costs the same with
a thousand events or fifty million:

- an organization's log, newest first: ``audit_org_when`` (organization_id, occurred_at, id),
  walked backwards from the page's cursor; never a ``COUNT(*)``, never an ``OFFSET``;
- an actor's email, whole or its beginning: ``lower(actor_text) LIKE 'pat@ex%'`` on the
  ``text_pattern_ops`` indexes, never an ``icontains`` that reads every row;
- a target: (target_type, target_id); an event or request id: their own indexes.

The portal (audit/portal.py), its exports (audit/exports.py) and the admin (audit/admin.py)
share these.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from audit.actions import Action, Outcome
from audit.models import AuditEvent, AuditEventQuerySet

_TARGET_TYPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class AuditFilterForm(forms.Form):
    """The audit page's filters, from its query string. Unknown values are errors (a 400 page),
    never a 500 and never a silently ignored filter."""

    actor = forms.CharField(
        label="Actor",
        required=False,
        max_length=320,
        help_text="An email address, or how it begins.",
    )
    action = forms.ChoiceField(
        label="Action", required=False, choices=[("", "Any action"), *Action.choices]
    )
    outcome = forms.ChoiceField(
        label="Outcome", required=False, choices=[("", "Any outcome"), *Outcome.choices]
    )
    target_type = forms.CharField(label="Target kind", required=False, max_length=64)
    target_id = forms.CharField(label="Target id", required=False, max_length=64)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput({"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput({"type": "date"}))

    def clean_actor(self) -> str:
        return str(self.cleaned_data.get("actor") or "").strip().lower()

    def clean_target_type(self) -> str:
        value = str(self.cleaned_data.get("target_type") or "").strip().lower()
        if value and not _TARGET_TYPE.match(value):
            raise forms.ValidationError("A target kind is a word such as user or membership.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("target_id") and not data.get("target_type"):
            self.add_error("target_type", "Say which kind of target the id is (e.g. user).")
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "The end of the range is before its start.")
        return data


# The filters' names, as a query string carries them (exports keep them to rebuild the query).
FILTER_NAMES = tuple(AuditFilterForm.base_fields)


def _day_start(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def filter_events(events: AuditEventQuerySet, filters: dict[str, Any]) -> AuditEventQuerySet:
    """``events`` narrowed by a valid ``AuditFilterForm``'s cleaned data. The date range is in
    the server's time zone, both days included."""
    if filters.get("actor"):
        events = actor_prefix(events, filters["actor"])
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    if filters.get("outcome"):
        events = events.filter(outcome=filters["outcome"])
    if filters.get("target_type"):
        events = events.filter(target_type=filters["target_type"])
        if filters.get("target_id"):
            events = events.filter(target_id=filters["target_id"])
    if filters.get("since"):
        events = events.filter(occurred_at__gte=_day_start(filters["since"]))
    if filters.get("until"):
        events = events.filter(occurred_at__lt=_day_start(filters["until"] + timedelta(days=1)))
    return events


def actor_prefix(events: AuditEventQuerySet, prefix: str) -> AuditEventQuerySet:
    """Events whose actor text begins with ``prefix``, ignoring case: an index range scan on
    ``lower(actor_text)`` (``LIKE`` escapes ``%`` and ``_`` in the prefix)."""
    return events.alias(actor_key=Lower("actor_text")).filter(
        actor_key__startswith=prefix.strip().lower()
    )


def search_term(events: AuditEventQuerySet, term: str) -> AuditEventQuerySet:
    """The admin's search box, every branch on an index:

    - an event's id (a UUID): that event, or the events of a request with that id;
    - ``<kind>:<id>`` (``user:42``, ``membership:7``): events about that target;
    - ``org:<id>``: an organization's events;
    - anything else: the actor's email or its beginning, or a request id.
    """
    term = term.strip()
    if not term:
        return events
    try:
        return events.filter(Q(pk=uuid.UUID(term)) | Q(request_id=term))
    except ValueError:
        pass
    kind, sep, value = term.partition(":")
    if sep and value and _TARGET_TYPE.match(kind.lower()) and "@" not in term:
        if kind.lower() == "org":
            return events.filter(organization_id=int(value)) if value.isdigit() else events.none()
        return events.filter(target_type=kind.lower(), target_id=value[:64])
    return events.alias(actor_key=Lower("actor_text")).filter(
        Q(actor_key__startswith=term.lower()) | Q(request_id=term[:64])
    )


# --- Keyset pages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Where a page starts or ends: an event's (occurred_at, id), the log's order."""

    occurred_at: datetime
    id: uuid.UUID

    def token(self) -> str:
        raw = f"{self.occurred_at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def of(cls, event: AuditEvent) -> Position:
        return cls(event.occurred_at, event.pk)

    @classmethod
    def parse(cls, token: str) -> Position:
        """The position a token names; ``ValueError`` for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            when, _, ident = raw.partition("|")
            occurred_at = datetime.fromisoformat(when)
            found = cls(occurred_at, uuid.UUID(ident))
        except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
            raise ValueError("not a position in the audit log") from exc
        if timezone.is_naive(found.occurred_at):
            raise ValueError("not a position in the audit log")
        return found


@dataclass(frozen=True)
class Page:
    events: list[AuditEvent]
    newer: str | None  # token for the page of newer events, None on the first page
    older: str | None  # token for the page of older events, None on the last page


def _older_than(events: AuditEventQuerySet, at: Position) -> AuditEventQuerySet:
    # ``occurred_at <= t`` bounds the index scan; the OR only settles ties at t.
    return events.filter(occurred_at__lte=at.occurred_at).filter(
        Q(occurred_at__lt=at.occurred_at) | Q(id__lt=at.id)
    )


def _newer_than(events: AuditEventQuerySet, at: Position) -> AuditEventQuerySet:
    return events.filter(occurred_at__gte=at.occurred_at).filter(
        Q(occurred_at__gt=at.occurred_at) | Q(id__gt=at.id)
    )


def keyset_page(
    events: AuditEventQuerySet,
    *,
    older_than: Position | None = None,
    newer_than: Position | None = None,
    size: int = 50,
) -> Page:
    """One page of ``events``, newest first: the first page, the page just older than
    ``older_than``, or the page just newer than ``newer_than``. One query, ``size + 1`` rows:
    the extra row only says whether another page exists."""
    if newer_than is not None:
        rows = list(_newer_than(events, newer_than).order_by("occurred_at", "id")[: size + 1])
        more_newer = len(rows) > size
        shown = rows[:size][::-1]
        return Page(
            shown,
            newer=Position.of(shown[0]).token() if more_newer and shown else None,
            older=Position.of(shown[-1]).token() if shown else None,
        )
    scoped = _older_than(events, older_than) if older_than is not None else events
    rows = list(scoped.order_by("-occurred_at", "-id")[: size + 1])
    shown = rows[:size]
    return Page(
        shown,
        newer=Position.of(shown[0]).token() if older_than is not None and shown else None,
        older=Position.of(shown[-1]).token() if len(rows) > size else None,
    )
