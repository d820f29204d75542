"""Step 2 of the job: every log that quotes people by address or name gets the pseudonym instead.

Audit events, consent events the person recorded for others, Django admin's change log and the
outgoing-email log. Every row that quotes an address the person proved they held is rewritten;
rows about the person or their things also lose other addresses of theirs and their name, and
where they (or an anonymous visitor using their address) acted, the IP address is cut to its
network and the browser dropped. What happened, when and to which row stays: the database lets
erasure change only those columns, through functions the owner role holds (audit migration
0012, consent migration 0008).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q

from accounts.models import OutboundEmail, User
from audit.models import AuditEvent
from audit.services import rewrite_events
from config.refusals import service
from consent import evidence
from consent.addresses import any_address
from consent.erasure.identifiers import Identifiers
from consent.erasure.rewriter import Rewriter, network
from consent.models import ConsentEvent
from organizations.models import Invitation

# Rows rewritten per transaction (and read per query).
BATCH_SIZE = 500
INVITATION_TEMPLATE = "organizations/email/invitation"

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class _Pass:
    """One pass over the logs for the erasure under way with ``pseudonym`` (the database's
    functions check changes against it): over rows written at or after ``since`` (all rows
    when None), ``inside`` the caller's transaction (the final pass) or a transaction per
    batch, calling ``heartbeat`` after each batch (the job's, so it does not look stalled)."""

    user: User
    identifiers: Identifiers
    rewriter: Rewriter
    pseudonym: str
    since: Any = None
    inside: bool = False
    heartbeat: Callable[[], None] | None = None

    def recent(self, queryset: Any, field_name: str) -> Any:
        if self.since is None:
            return queryset
        return queryset.filter(**{f"{field_name}__gte": self.since})


def rewrite_quotes(
    user: User,
    identifiers: Identifiers,
    pseudonym: str,
    *,
    since: Any = None,
    inside: bool = False,
    heartbeat: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Rewrite every log that quotes the person (only rows written at or after ``since``, when
    given; ``inside`` the caller's transaction, or a transaction per batch). Returns how many
    rows of each log changed. Idempotent."""
    run = _Pass(
        user=user,
        identifiers=identifiers,
        rewriter=Rewriter(identifiers, pseudonym),
        pseudonym=pseudonym,
        since=since,
        inside=inside,
        heartbeat=heartbeat,
    )
    return {
        "audit_events": _audit_events(run),
        "consent_events_recorded": _consent_recorders(run),
        "admin_log_entries": _admin_log(run),
        "outbound_emails": _outbound_emails(run),
    }


# --- One log at a time ---------------------------------------------------------------------------


def _audit_events(run: _Pass) -> int:
    linked_ids = set(
        AuditEvent.objects.filter(_about_them(run.user, run.identifiers.targets)).values_list(
            "pk", flat=True
        )
    )
    rewriter = run.rewriter

    def rewrite(row: dict[str, Any]) -> dict[str, Any]:
        linked = row["pk"] in linked_ids
        changes: dict[str, Any] = {}
        for name in ("actor_text", "target_text"):
            new = rewriter.text(row[name], linked=linked)
            if new != row[name]:
                changes[name] = new
        data = rewriter.data(row["data"], linked=linked)
        if data != row["data"]:
            changes["data"] = data
        # Their own requests, or someone signing in with their address: the IP address and
        # browser were (probably) theirs. Staff and admins acting on them keep theirs.
        acted = row["actor_id"] == run.user.pk or (row["actor_id"] is None and changes)
        if acted:
            if row["ip"] and network(row["ip"]) != row["ip"]:
                changes["ip"] = network(row["ip"])
            if row["user_agent"]:
                changes["user_agent"] = ""
        return changes

    return _walk(
        run.recent(AuditEvent.objects.all(), "occurred_at"),
        ("actor_id", "actor_text", "target_text", "ip", "user_agent", "data"),
        rewrite,
        run,
    )


def _about_them(user: User, targets: list[tuple[str, str]]) -> Q:
    """Audit events the person performed, or whose target is theirs."""
    query = Q(actor_id=user.pk)
    by_type: dict[str, list[str]] = {}
    for target_type, target_id in targets:
        by_type.setdefault(target_type, []).append(target_id)
    for target_type, ids in by_type.items():
        query |= Q(target_type=target_type, target_id__in=ids)
    return query


def _consent_recorders(run: _Pass) -> int:
    """Consent they recorded for others (an operator's staff): only who recorded it changes."""

    def rewrite(row: dict[str, Any]) -> dict[str, Any]:
        new = run.rewriter.text(row["actor_text"], linked=True)
        return {"actor_text": new} if new != row["actor_text"] else {}

    return _walk(
        run.recent(ConsentEvent.objects.filter(actor_id=run.user.pk), "recorded_at"),
        ("actor_text",),
        rewrite,
        run,
    )


def _admin_log(run: _Pass) -> int:
    user_type = ContentType.objects.get_for_model(User).pk
    own_id = str(run.user.pk)

    def rewrite(row: dict[str, Any]) -> dict[str, Any]:
        linked = row["content_type_id"] == user_type and row["object_id"] == own_id
        changes = {}
        new = run.rewriter.text(row["object_repr"], linked=linked)
        if new != row["object_repr"]:
            changes["object_repr"] = new
        # The change message lists field names; only addresses could be in it.
        new = run.rewriter.text(row["change_message"], linked=False)
        if new != row["change_message"]:
            changes["change_message"] = new
        return changes

    return _walk(
        run.recent(LogEntry.objects.all(), "action_time"),
        ("content_type_id", "object_id", "object_repr", "change_message"),
        rewrite,
        run,
    )


def _outbound_emails(run: _Pass) -> int:
    # Invitations they sent name them in the subject ("Pat invited you"): those emails are
    # about them. Every other email only loses their proven addresses, and never a name.
    invited = {
        address.casefold()
        for address in Invitation.objects.filter(invited_by=run.user).values_list(
            "email", flat=True
        )
    }

    def rewrite(row: dict[str, Any]) -> dict[str, Any]:
        theirs = row["template"] == INVITATION_TEMPLATE and row["to"].casefold() in invited
        changes = {}
        for name in ("subject", "text_body", "html_body", "last_error"):
            # Names in a subject only: a body is HTML, where a name like "Li" is also a tag.
            new = run.rewriter.text(row[name], linked=theirs, names=theirs and name == "subject")
            if new != row[name]:
                changes[name] = new
        return changes

    # Emails sent to their addresses are deleted at the end (consent.erasure.removal).
    not_to_them = OutboundEmail.objects.exclude(any_address("to", run.identifiers.everywhere))
    return _walk(
        run.recent(not_to_them, "created_at"),
        ("template", "to", "subject", "text_body", "html_body", "last_error"),
        rewrite,
        run,
    )


# --- Walking a table -----------------------------------------------------------------------------


def _walk(queryset: Any, fields: tuple[str, ...], rewrite: Rewrite, run: _Pass) -> int:
    """Walk a table in primary-key order, a batch at a time, and apply ``rewrite`` to each
    row's ``fields``; it returns the columns to change. Returns the number of rows changed."""
    model = queryset.model
    limits = {
        f.name: f.max_length for f in model._meta.concrete_fields if getattr(f, "max_length", 0)
    }
    changed = 0
    last = None
    while True:
        batch_query = queryset.order_by("pk")
        if last is not None:
            batch_query = batch_query.filter(pk__gt=last)
        rows = list(batch_query.values("pk", *fields)[:BATCH_SIZE])
        if not rows:
            return changed
        last = rows[-1]["pk"]
        updates = _changes(rows, rewrite, limits, run.pseudonym)
        if updates:
            if run.inside:
                _apply(model, updates, run.pseudonym)
            else:
                _apply_in_own_transaction(model, updates, run.pseudonym)
            changed += len(updates)
        if run.heartbeat is not None:
            run.heartbeat()


def _changes(
    rows: list[dict[str, Any]], rewrite: Rewrite, limits: dict[str, int], pseudonym: str
) -> list[tuple[Any, dict[str, Any]]]:
    """(primary key, columns to change) for each row ``rewrite`` changes, cut to fit."""
    updates = []
    for row in rows:
        columns = rewrite(row)
        for name, value in columns.items():
            if isinstance(value, str) and name in limits:
                columns[name] = _fit(value, limits[name], pseudonym)
        if columns:
            updates.append((row["pk"], columns))
    return updates


def _fit(value: str, limit: int, pseudonym: str) -> str:
    """``value`` cut to a column's length (the pseudonym may be longer than what it replaced),
    still naming the pseudonym if it did: the database refuses a rewritten quote without it."""
    if len(value) <= limit:
        return value
    cut = value[:limit]
    if pseudonym in value and pseudonym not in cut:
        cut = value[: limit - len(pseudonym)] + pseudonym
    return cut


def _apply(
    model: type[models.Model], updates: list[tuple[Any, dict[str, Any]]], pseudonym: str
) -> None:
    # Audit and consent events change only through the database's erasure functions.
    if model is AuditEvent:
        rewrite_events(pseudonym, updates)
    elif model is ConsentEvent:
        evidence.rewrite_recorders(pseudonym, updates)
    else:
        for pk, columns in updates:
            models.QuerySet.update(model._default_manager.filter(pk=pk), **columns)


@service
def _apply_in_own_transaction(
    model: type[models.Model], updates: list[tuple[Any, dict[str, Any]]], pseudonym: str
) -> None:
    """A batch of the first pass, committed on its own: the pass holds no lock for long, and
    a crash loses at most the batch under way, which the next run rewrites again."""
    _apply(model, updates, pseudonym)
