"""Writing consent: publishing policy versions and recording decisions.

Every decision goes through ``record_consent`` (or, for several at once, ``record_signup`` and
``accept_pending``): it checks the purpose applies to the person, picks the version in force,
writes the event with its signed receipt, moves the current state, audits, and sends
``consent_changed`` once the transaction commits. Writers for one person are serialised on their
user row, so the state always follows the last event written. Refusals are ``Refusal``s.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit import context
from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, Refusal, service
from consent import receipts, selectors
from consent.models import (
    ConsentEvent,
    ConsentState,
    Decision,
    Method,
    PolicyDocument,
    PolicyVersion,
    Purpose,
)
from consent.signals import consent_changed


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise(text: str) -> str:
    """Line endings as LF, so a copy pasted from anywhere hashes the same."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@service
def publish_version(*, version: PolicyVersion, actor: Any, reason: str = "") -> PolicyVersion:
    """Publish a draft: its text is fixed and hashed from now on. If it asks for
    re-acceptance (or is the document's first), it becomes what everyone must have accepted."""
    version = PolicyVersion.objects.select_for_update().get(pk=version.pk)
    if version.is_published:
        raise Refusal("This version is already published.", status=409)
    version.content = normalise(version.content)
    if not version.content.strip():
        raise Refusal("A version needs its full text before it is published.")
    first = not version.document.versions.published().exists()
    version.content_sha256 = content_hash(version.content)
    version.published_at = timezone.now()
    version.save(update_fields=["content", "content_sha256", "published_at"])
    binding = first or version.requires_reacceptance
    if binding:
        Purpose.objects.filter(document=version.document).update(
            binding_version=version, binding_published_at=version.published_at
        )
    record(
        Action.CONSENT_POLICY_PUBLISHED,
        actor=actor,
        target=version,
        organization=version.document.organization_id,
        data={
            "document": version.document.key,
            "version": version.pk,
            "label": version.label,
            "content_sha256": version.content_sha256,
            "requires_reacceptance": binding,
            "reason": reason[:500],
        },
    )
    return version


# Joins the caller's transaction: the admin saves a form (with its inlines and change log entry)
# in one transaction of its own.
@service(durable=False)
def save_catalogue_entry(
    *, entry: Purpose | PolicyDocument | PolicyVersion, actor: Any, changed: list[str]
) -> None:
    """Save a purpose, a policy document or a draft version as staff edited it (the admin), on
    the audit record: making a purpose required, say, changes what everyone is asked."""
    created = entry.pk is None
    entry.save()
    if not created and not changed:
        return
    record(
        Action.CONSENT_CATALOGUE_CHANGED,
        actor=actor,
        target=entry,
        organization=entry.document.organization_id
        if isinstance(entry, PolicyVersion)
        else entry.organization_id,
        data={
            "model": entry._meta.model_name,
            "created": created,
            "changed": sorted(changed),
        },
    )


def _version_for(
    purpose: Purpose, named: PolicyVersion | None, method: str
) -> PolicyVersion | None:
    if not purpose.document_id:
        if named is not None:
            raise Refusal("This purpose has no policy document.", status=409)
        return None
    current = purpose.current_version()
    if current is None:
        raise Refusal("This purpose's policy is not published yet.", status=409)
    if named is None:
        return current
    if named.document_id != purpose.document_id or not named.is_published:
        raise Refusal("That version is not a published version of this purpose's policy.")
    if named.pk != current.pk and method != Method.IMPORT:
        raise Refusal(
            f"That version is out of date: the current one is “{current.label}”.", status=409
        )
    return named


def _check_decision(
    *, user: User, purpose: Purpose, decision: str, method: str, occurred_at: datetime | None
) -> None:
    """Refuse a decision that cannot be recorded, whatever the person decided before."""
    if decision not in Decision.values:
        raise Refusal("The decision is “granted” or “withdrawn”.")
    if method not in Method.values:
        raise Refusal("Unknown method.")
    if method != Method.IMPORT and occurred_at is not None:
        raise Refusal("Only an import may say when consent was given.")
    if occurred_at is not None and occurred_at > timezone.now():
        # It would outrank every real decision made before that date.
        raise Refusal("Consent cannot be dated in the future.")
    # Whether it applies first: an archived purpose of someone else's organization is a 404 too.
    if not selectors.purposes_in_scope(user).filter(pk=purpose.pk).exists():
        raise NotFound("No such purpose.")
    if purpose.kind == Purpose.Kind.OAUTH_APP:
        # Only the provider records these (consent.app_access), so the ledger follows the
        # apps' actual access: given on the app's consent screen, ended on /account/apps/.
        raise Refusal(
            "This is an app's access to your account: you allow it on the app's own consent "
            "screen and remove it from your connected apps.",
            status=409,
        )
    if purpose.archived:
        raise Refusal("This purpose is no longer asked for.", status=409)
    if decision == Decision.WITHDRAWN and purpose.required:
        raise Refusal(
            "This one is required to use your account. To stop, delete the account instead.",
            status=409,
        )


@service
def record_consent(
    *,
    user: User,
    purpose: Purpose,
    decision: str,
    method: str,
    actor: Any = None,
    version: PolicyVersion | None = None,
    occurred_at: datetime | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[ConsentEvent, bool]:
    """Record one decision. Returns (event, created): the same decision on the same version
    again changes nothing and returns the event that made it.

    ``actor`` is whoever recorded it when not the person (an operator's backend); ``version``,
    ``occurred_at``, ``ip`` and ``user_agent`` may be given only by an import of consent
    collected elsewhere. Otherwise the version in force and the current request are used.
    """
    return _record(
        user=user,
        purpose=purpose,
        decision=decision,
        method=method,
        actor=actor,
        version=version,
        occurred_at=occurred_at,
        ip=ip,
        user_agent=user_agent,
    )


def _record(
    *,
    user: User,
    purpose: Purpose,
    decision: str,
    method: str,
    actor: Any = None,
    version: PolicyVersion | None = None,
    occurred_at: datetime | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> tuple[ConsentEvent, bool]:
    """``record_consent`` inside the caller's transaction."""
    _check_decision(
        user=user, purpose=purpose, decision=decision, method=method, occurred_at=occurred_at
    )
    version = _version_for(purpose, version, method)

    # One writer per person at a time: the state row follows the last event written.
    User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).get()
    state = ConsentState.objects.filter(user=user, purpose=purpose).select_related("event").first()
    granted = decision == Decision.GRANTED
    if (
        state is not None
        and method != Method.IMPORT
        and state.granted == granted
        and state.version_id == (version.pk if version else None)
    ):
        return state.event, False

    event = new_event(
        user=user,
        purpose=purpose,
        version=version,
        decision=decision,
        method=method,
        actor=actor,
        occurred_at=occurred_at,
        ip=ip,
        user_agent=user_agent,
    )
    # An import of something older than what the person decided since is evidence, not news.
    moves = state is None or event.occurred_at >= state.event.occurred_at
    if moves:
        move_state(state, event, granted=granted)
    record(
        Action.CONSENT_GRANTED if granted else Action.CONSENT_WITHDRAWN,
        actor=actor or user,
        target=user,
        organization=purpose.organization_id,
        data={
            "purpose": purpose.key,
            "version": version.pk if version else None,
            "method": method,
            "event": str(event.public_id),
        },
    )
    if moves:
        transaction.on_commit(
            lambda: consent_changed.send(
                sender=ConsentEvent, event=event, user=user, purpose=purpose, decision=decision
            )
        )
    return event, True


def new_event(
    *,
    user: User,
    purpose: Purpose,
    version: PolicyVersion | None,
    decision: str,
    method: str,
    actor: Any,
    occurred_at: datetime | None,
    ip: str | None,
    user_agent: str | None,
    details: dict[str, Any] | None = None,
) -> ConsentEvent:
    """Write the event with its signed receipt, in the caller's transaction. Where it came
    from is the current request's, except for an import, which brings its own."""
    where = context.current()
    now = timezone.now()
    imported = method == Method.IMPORT
    event = ConsentEvent(
        user=user,
        purpose=purpose,
        version=version,
        organization_id=purpose.organization_id,
        decision=decision,
        method=method,
        occurred_at=occurred_at or now,
        recorded_at=now,
        ip=ip if imported else where.ip,
        user_agent=(user_agent or "")[:400] if imported else where.user_agent,
        actor=actor if getattr(actor, "is_authenticated", False) and actor != user else None,
        actor_text=str(actor)[:320] if actor is not None and actor != user else "",
        request_id=where.request_id,
        details=details or {},
    )
    event.receipt = receipts.sign(event)
    event.save()
    return event


def move_state(state: ConsentState | None, event: ConsentEvent, *, granted: bool) -> None:
    """Make ``event`` the person's current decision on its purpose (caller's transaction)."""
    version = event.version
    fields = {
        "event": event,
        "granted": granted,
        "version": version,
        "version_published_at": version.published_at if version else None,
        "updated_at": event.recorded_at,
    }
    if state is None:
        ConsentState.objects.create(user=event.user, purpose=event.purpose, **fields)
    else:
        for name, value in fields.items():
            setattr(state, name, value)
        state.save()


def signup_purposes() -> list[Purpose]:
    """What the sign-up form asks: Gatehouse-wide purposes offered there, whose document (if
    any) is published. Required first."""
    purposes = (
        Purpose.objects.filter(archived=False, organization__isnull=True, offered_at_signup=True)
        .exclude(kind=Purpose.Kind.OAUTH_APP)
        .select_related("document", "binding_version")
    )
    return [p for p in purposes if not p.document_id or p.binding_version_id]


# Joins the sign-up's transaction: a sign-up that fails later leaves no consent events behind.
@service(durable=False)
def record_signup(*, user: User, purposes: list[Purpose], ticked: set[int]) -> list[ConsentEvent]:
    """The sign-up form's boxes: every required purpose was ticked (the form checked it); an
    optional one is recorded only if ticked, as nothing was decided otherwise."""
    events = []
    for purpose in purposes:
        if purpose.pk in ticked:
            event, _ = _record(
                user=user, purpose=purpose, decision=Decision.GRANTED, method=Method.SIGNUP
            )
            events.append(event)
    return events


@service
def accept_pending(
    *,
    user: User,
    purposes: list[Purpose],
    shown: dict[int, PolicyVersion | None] | None = None,
) -> list[ConsentEvent]:
    """The re-acceptance page: accept every purpose still owed. ``shown`` maps each purpose to
    the version the page showed: if a newer one was published meanwhile, nothing is recorded
    (409), because nobody may be taken to accept a text they were not shown."""
    return [
        _record(
            user=user,
            purpose=p,
            decision=Decision.GRANTED,
            method=Method.RECONSENT,
            version=(shown or {}).get(p.pk),
        )[0]
        for p in purposes
    ]
