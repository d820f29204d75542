"""Erasure: a person asks for their account to be deleted, and after a grace period a job does it.

The flow: ``request_erasure`` (the privacy page or the API, after a step-up) schedules a
``DataSubjectRequest`` for ``GATEHOUSE_ERASURE_GRACE_DAYS`` later and emails every verified
address; until then the account works and ``cancel_erasure`` undoes it. The beat task
``run_due_erasures`` queues ``erase_user`` for requests that are due, which calls ``erase``:

1. **Start** (one transaction, the request row locked): refuse while the person is the only owner
   of an organization that has other members (the request goes on hold, they are told, and it
   resumes once ownership moves); otherwise mark it ``erasing``, sign the account out everywhere,
   deactivate it, draw a random pseudonym and store the identifiers to erase, encrypted. Old
   addresses survive only in audit data, which step 2 rewrites: a crash must not lose them.
2. **Rewrite quotes** (a batch per transaction): audit events, Django admin's change log and the
   outgoing-email log quote people by address and name. Every row that quotes an address the
   person proved they held gets the pseudonym instead; rows about the person or their things
   also lose other addresses of theirs and their name, and where they (or an anonymous visitor
   using their address) acted, the IP address is cut to its network (/24, /48) and the browser
   dropped. What happened, when and to which row stays: the database lets erasure change only
   those columns, through functions the owner role holds (audit migration 0012, consent
   migration 0008; the application's own role may not update the log at all).
3. **Finish** (one transaction): delete the person's own rows, clear the IP address and browser
   from their consent events (kept as evidence, see below), turn the account into a tombstone,
   mark the request completed, audit it and send a last email that forgets its recipient.

Running it again is harmless: every step looks for what is still there, and a completed request
is skipped. What is kept, and why, is written down in docs/issue-6-consent.md ("Erasure").
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import IntegrityError, models, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django_otp_webauthn.models import WebAuthnUserHandle

from accounts.mfa.policy import DEVICE_MODELS
from accounts.models import OutboundEmail, User
from accounts.services import outside_a_request
from audit.actions import Action
from audit.models import AuditEvent
from audit.services import record, rewrite_events
from config import encryption
from consent import evidence
from consent.export import EMAIL_PATTERN, any_address
from consent.models import ConsentEvent, ConsentState, DataSubjectRequest, ExportArchive
from consent.signals import user_erased
from organizations.models import Invitation, Membership, Organization, Role

logger = logging.getLogger(__name__)

Erasure = DataSubjectRequest.Kind.ERASURE
Status = DataSubjectRequest.Status
OPEN = (Status.SCHEDULED, Status.ERASING, Status.ON_HOLD)
# What the person types to confirm, on the page and in the API.
CONFIRMATION = "delete"
ERASED_DOMAIN = "erased.invalid"  # RFC 2606: can never be anyone's real address
BATCH_SIZE = 500
# A job that started this long ago and never finished (a worker died) is queued again.
STALLED_AFTER = timedelta(minutes=30)
JOB_ACTOR = "erasure job"
INVITATION_TEMPLATE = "organizations/email/invitation"
# A job that keeps failing stops being retried and waits for staff (the admin shows why).
MAX_ATTEMPTS = 5


class ErasureRefused(Exception):
    """A request that cannot be taken (or undone), with a message fit to show the person."""

    def __init__(self, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


# What erasure does with each kind of row that the export covers or leaves out on purpose
# (consent.export.SECTIONS and NOT_EXPORTED): a test fails when a model is in one list and
# not here. docs/issue-6-consent.md explains the choices.
WHAT_HAPPENS: dict[str, str] = {
    "accounts.User": "kept as a tombstone: random address, no name, no password, inactive, "
    "no staff powers, new public id; audit and consent rows still point at it",
    "accounts.User_groups": "cleared",
    "accounts.User_user_permissions": "cleared",
    "account.EmailAddress": "deleted",
    "organizations.Membership": "deleted, with org.member_erased in the organization's log",
    "organizations.Invitation": "open ones to their addresses deleted; used or revoked ones "
    "get an erased address; ones they sent stay, pointing at the tombstone",
    "usersessions.UserSession": "ended (the session store entry goes too) and deleted",
    "socialaccount.SocialAccount": "deleted, with its tokens and SSO confirmations",
    "consent.ConsentEvent": "kept as evidence without IP address or browser, then deleted "
    "after GATEHOUSE_CONSENT_EVIDENCE_DAYS",
    "consent.ConsentState": "deleted",
    "consent.DataSubjectRequest": "kept as proof the request was honoured; archives deleted",
    "accounts.OutboundEmail": "deleted when sent to their addresses; others that name them "
    "are rewritten",
    "audit.AuditEvent": "kept, with their addresses and name replaced by the pseudonym",
    "admin.LogEntry": "kept, with their addresses (and name, on their own record) replaced",
    "django_otp_webauthn.WebAuthnUserHandle": "deleted",
    "sso.Connection": "kept: who configured it now points at the tombstone",
    "consent.PolicyVersion": "kept: who drafted it now points at the tombstone",
    **{model._meta.label: "deleted" for model in DEVICE_MODELS.values()},
}


# --- Asking and cancelling -----------------------------------------------------------------------


def open_erasure(user: User) -> DataSubjectRequest | None:
    return (
        DataSubjectRequest.objects.filter(user=user, kind=Erasure, status__in=OPEN)
        .order_by("-requested_at")
        .first()
    )


def blocking_organizations(user: User) -> list[Organization]:
    """Organizations the person alone owns while others still belong to them: erasing the
    person would leave those members with nobody able to manage the organization."""
    owned = Membership.objects.filter(
        user=user, role=Role.OWNER, status=Membership.Status.ACTIVE
    ).values("organization_id")
    active = Q(memberships__status=Membership.Status.ACTIVE)
    return list(
        Organization.objects.filter(pk__in=owned)
        .annotate(
            owners=Count("memberships", filter=active & Q(memberships__role=Role.OWNER)),
            others=Count("memberships", filter=active & ~Q(memberships__user=user)),
        )
        .filter(owners=1, others__gt=0)
        .order_by("name")
    )


def _sole_owner_message(orgs: list[Organization]) -> str:
    names = ", ".join(org.name for org in orgs)
    return (
        f"You are the only owner of {names}. Make another member an owner (or remove the "
        "other members) first, so the organization is not left without anyone to manage it."
    )


@transaction.atomic
def request_erasure(*, user: User, via: str = DataSubjectRequest.Via.SELF) -> DataSubjectRequest:
    """Schedule the erasure of ``user``'s account. Returns the open request if there is one.
    Raises ``ErasureRefused`` for an account already erased or a sole owner. The caller checks
    who is asking (a signed-in person after a step-up)."""
    from consent.tasks import erase_user

    locked = User.objects.select_for_update().get(pk=user.pk)  # one request at a time
    if locked.erased_at is not None:
        raise ErasureRefused("This account has already been erased.", status=404)
    existing = open_erasure(locked)
    if existing is not None:
        return existing
    blocking = blocking_organizations(locked)
    if blocking:
        raise ErasureRefused(_sole_owner_message(blocking))
    now = timezone.now()
    due = now + timedelta(days=settings.GATEHOUSE_ERASURE_GRACE_DAYS)
    try:
        with transaction.atomic():
            erasure = DataSubjectRequest.objects.create(
                user=locked,
                kind=Erasure,
                status=Status.SCHEDULED,
                via=via,
                requested_at=now,
                scheduled_for=due,
            )
    except IntegrityError:
        existing = open_erasure(locked)
        if existing is None:
            raise
        return existing
    record(
        Action.PRIVACY_ERASURE_REQUESTED,
        actor=locked,
        target=locked,
        data={
            "request": str(erasure.public_id),
            "via": via,
            "scheduled_for": due.isoformat(),
        },
    )
    _email_everyone(locked, "email/consent/erasure_scheduled", {"erasure": erasure})
    if due <= now:  # no grace period configured
        pk = erasure.pk
        transaction.on_commit(lambda: erase_user.delay(pk))
    return erasure


@transaction.atomic
def cancel_erasure(*, user: User, via: str = DataSubjectRequest.Via.SELF) -> DataSubjectRequest:
    """Call off the person's scheduled (or held) erasure. Raises ``ErasureRefused`` when there is
    none (404) or the job has already begun (409)."""
    erasure = (
        DataSubjectRequest.objects.select_for_update()
        .filter(user=user, kind=Erasure, status__in=OPEN)
        .first()
    )
    if erasure is None:
        raise ErasureRefused("There is no account deletion to cancel.", status=404)
    if erasure.status == Status.ERASING:
        raise ErasureRefused("The deletion of this account has already begun.")
    _reactivate(erasure)  # a job that started and went on hold had signed them out
    erasure.status = Status.CANCELLED
    erasure.cancelled_at = timezone.now()
    erasure.identifiers = None
    erasure.save(update_fields=["status", "cancelled_at", "identifiers"])
    record(
        Action.PRIVACY_ERASURE_CANCELLED,
        actor=user,
        target=user,
        data={"request": str(erasure.public_id), "via": via},
    )
    _email_everyone(user, "email/consent/erasure_cancelled", {"erasure": erasure})
    return erasure


def _verified_addresses(user: User) -> list[str]:
    """The login address (held by no other account, and where account email goes) and every
    verified one."""
    found = {user.email.lower(): user.email} if user.email else {}
    for address in EmailAddress.objects.filter(user=user, verified=True).values_list(
        "email", flat=True
    ):
        found.setdefault(address.lower(), address)
    return list(found.values())


def _email_everyone(user: User, template: str, context: dict[str, Any]) -> None:
    """Tell every verified address: someone who took over one mailbox cannot quietly delete
    (or keep) the account without the others hearing of it."""
    context = {
        "user": user,
        "privacy_url": settings.GATEHOUSE_PUBLIC_URL.rstrip("/") + reverse("consent:privacy"),
        **context,
    }
    with outside_a_request():
        for address in _verified_addresses(user):
            get_adapter().send_mail(template, address, context)


# --- Running due requests ------------------------------------------------------------------------


def due_requests() -> list[int]:
    """Requests to work on now: scheduled ones past their grace period, held ones (to check
    again whether ownership has moved), and started ones whose worker stopped."""
    now = timezone.now()
    return list(
        DataSubjectRequest.objects.filter(kind=Erasure)
        .filter(
            Q(status=Status.SCHEDULED, scheduled_for__lte=now)
            | Q(status=Status.ON_HOLD)
            | Q(status=Status.ERASING, started_at__lt=now - STALLED_AFTER)
        )
        .order_by("scheduled_for")
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )


# --- What to erase -------------------------------------------------------------------------------


@dataclass
class Identifiers:
    """What names the person. ``everywhere``: addresses they proved they held (replaced in every
    row of every log). ``linked``: other addresses of theirs (added, never proven: possibly a
    stranger's) and ``names``: their names, current and former; both replaced only in rows about
    them or their things, and names only where a record quotes a name (free text and name
    fields, never other values: a person called "Admin" must not rewrite role changes).
    ``targets`` are (model name, id) pairs of audit targets that are theirs."""

    everywhere: list[str] = field(default_factory=list)
    linked: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    targets: list[tuple[str, str]] = field(default_factory=list)

    def dumps(self) -> bytes:
        payload = {
            "everywhere": self.everywhere,
            "linked": self.linked,
            "names": self.names,
            "targets": [list(t) for t in self.targets],
        }
        return encryption.encrypt_bytes(json.dumps(payload).encode())

    @classmethod
    def loads(cls, token: bytes | memoryview) -> Identifiers:
        payload = json.loads(encryption.decrypt_bytes(bytes(token)))
        return cls(
            everywhere=payload["everywhere"],
            linked=payload["linked"],
            names=payload["names"],
            targets=[(t[0], t[1]) for t in payload["targets"]],
        )


def _addresses_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield from EMAIL_PATTERN.findall(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _addresses_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _addresses_in(item)


def _claims_of(extra_data: Any) -> dict[str, Any]:
    """An IdP's claims about the person: OIDC keeps them under "userinfo" and "id_token"."""
    if not isinstance(extra_data, dict):
        return {}
    claims = dict(extra_data)
    for part in ("userinfo", "id_token"):
        if isinstance(extra_data.get(part), dict):
            claims.update(extra_data[part])
    return claims


def _names_in(value: Any) -> Iterable[str]:
    """Display names quoted by a ``profile.updated`` event: {"display_name": {"from", "to"}}."""
    if isinstance(value, dict):
        change = value.get("display_name")
        if isinstance(change, dict):
            yield from (v for v in (change.get("from"), change.get("to")) if isinstance(v, str))


def _their_targets(user: User) -> list[tuple[str, str]]:
    targets = [("user", str(user.pk))]

    def add(model: type[models.Model], queryset: Any) -> None:
        name = model._meta.model_name or ""
        targets.extend((name, str(pk)) for pk in queryset.values_list("pk", flat=True))

    add(EmailAddress, EmailAddress.objects.filter(user=user))
    add(Membership, Membership.objects.filter(user=user))
    add(SocialAccount, SocialAccount.objects.filter(user=user))
    add(UserSession, UserSession.objects.filter(user=user))
    add(DataSubjectRequest, DataSubjectRequest.objects.filter(user=user))
    for model in DEVICE_MODELS.values():
        add(model, model.objects.filter(user=user))
    return targets


def _linked(user: User, targets: list[tuple[str, str]]) -> Q:
    query = Q(actor_id=user.pk)
    by_type: dict[str, list[str]] = {}
    for target_type, target_id in targets:
        by_type.setdefault(target_type, []).append(target_id)
    for target_type, ids in by_type.items():
        query |= Q(target_type=target_type, target_id__in=ids)
    return query


# Events in which the person's own address changed hands: the data names that address.
_ADDRESS_EVENTS = {
    Action.EMAIL_ADDED.value: "linked",
    Action.EMAIL_REMOVED.value: "linked",
    Action.EMAIL_VERIFIED.value: "everywhere",  # an address they proved they held
    Action.EMAIL_CHANGED.value: "everywhere",  # primary changes go between proven addresses
}


def collect(user: User) -> Identifiers:
    """Everything that names the person, from their live rows and their own audit trail. Only
    what is theirs: an address in an invitation they sent, or a manager's in an IdP's claims,
    is someone else's; and an old address of theirs that another account holds now is that
    account's."""
    everywhere = _verified_addresses(user)
    linked: list[str] = list(
        EmailAddress.objects.filter(user=user, verified=False).values_list("email", flat=True)
    )
    names = [user.display_name]
    for account in SocialAccount.objects.filter(user=user):
        claims = _claims_of(account.extra_data)
        if isinstance(claims.get("email"), str):
            linked.append(claims["email"])
        if isinstance(claims.get("name"), str):
            names.append(claims["name"])
        given, family = claims.get("given_name"), claims.get("family_name")
        if isinstance(given, str) and isinstance(family, str):
            names.append(f"{given} {family}")
    targets = _their_targets(user)
    events = AuditEvent.objects.filter(
        Q(actor_id=user.pk) & (Q(action__in=_ADDRESS_EVENTS) | Q(action=Action.PROFILE_UPDATED))
    ).values_list("action", "data")
    for action, data in events.iterator(chunk_size=BATCH_SIZE):
        if action in _ADDRESS_EVENTS:
            found = list(_addresses_in(data))
            (everywhere if _ADDRESS_EVENTS[action] == "everywhere" else linked).extend(found)
        names.extend(_names_in(data))
    held = _held_by_others(user, everywhere + linked)
    everywhere = [a for a in everywhere if a.casefold() not in held]
    proven = {a.casefold() for a in everywhere}
    return Identifiers(
        everywhere=_unique(everywhere),
        linked=_unique(a for a in linked if a.casefold() not in held | proven),
        names=_unique(n.strip() for n in names if n and n.strip()),
        targets=targets,
    )


def _held_by_others(user: User, addresses: list[str]) -> set[str]:
    """The addresses in ``addresses`` that another account has now, casefolded."""
    if not addresses:
        return set()
    others = set(
        User.objects.exclude(pk=user.pk)
        .filter(any_address("email", addresses))
        .values_list("email", flat=True)
    ) | set(
        EmailAddress.objects.exclude(user=user)
        .filter(any_address("email", addresses))
        .values_list("email", flat=True)
    )
    return {a.casefold() for a in others}


def _unique(values: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if value:
            seen.setdefault(value.casefold(), value)
    # Longest first, so that "ann@example.com" is replaced before a name like "ann" could be.
    return sorted(seen.values(), key=len, reverse=True)


# --- Replacing quotes ----------------------------------------------------------------------------


# Keys whose values are names, in audit data (profile changes, an IdP's claims).
NAME_KEYS = frozenset({"display_name", "name", "given_name", "family_name"})


class Rewriter:
    """Replaces the person's identifiers in text and JSON, case-insensitively and only whole:
    erasing "ann@example.com" leaves "joann@example.com" and "o'ann@example.com" alone."""

    def __init__(self, identifiers: Identifiers, pseudonym: str) -> None:
        self.pseudonym = pseudonym
        self.replacement = f"{pseudonym}@{ERASED_DOMAIN}"
        self._everywhere = _pattern(identifiers.everywhere)
        self._linked = _pattern(identifiers.linked)
        self._names = _pattern(identifiers.names)

    def text(self, value: str, *, linked: bool, names: bool = True) -> str:
        """Their proven addresses; in rows about the person (``linked``) also their other
        addresses and, where the text may quote a name (``names``), their names."""
        if not value:
            return value
        result = self._sub(self._everywhere, value)
        if linked:
            result = self._sub(self._linked, result)
            if names:
                result = self._sub(self._names, result)
        return result

    def data(self, value: Any, *, linked: bool, _names: bool = False) -> Any:
        """JSON: addresses anywhere in it, names only under name keys (when ``linked``)."""
        if isinstance(value, str):
            return self.text(value, linked=linked, names=_names)
        if isinstance(value, dict):
            return {
                key: self.data(item, linked=linked, _names=_names or key in NAME_KEYS)
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.data(item, linked=linked, _names=_names) for item in value]
        return value

    def _sub(self, pattern: re.Pattern[str] | None, value: str) -> str:
        if pattern is None:
            return value
        return pattern.sub(lambda m: self._replace(m.group(0)), value)

    def _replace(self, found: str) -> str:
        return self.replacement if "@" in found else self.pseudonym


# Characters that may continue an address (or a word) on either side: a match next to one is
# part of something longer, someone else's.
_BEFORE = r"[\w.!#$%&'*+/=?^`{|}~-]"
_AFTER = r"[\w-]|\.\w|@"


def _pattern(values: list[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    alternatives = "|".join(re.escape(v) for v in values)
    return re.compile(rf"(?<!{_BEFORE})(?:{alternatives})(?!{_AFTER})", re.IGNORECASE)


def _network(ip: str | None) -> str | None:
    if not ip:
        return ip
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


class _Walk(NamedTuple):
    """How ``_walk`` runs: for the erasure under way with ``pseudonym`` (the database's functions
    check changes against it), inside the caller's transaction (the final pass) or a
    transaction per batch, and what to call after each batch (the job's heartbeat)."""

    pseudonym: str
    inside: bool = False
    heartbeat: Callable[[], None] | None = None


def _walk(
    queryset: Any,
    fields: tuple[str, ...],
    rewrite: Callable[[dict[str, Any]], dict[str, Any]],
    how: _Walk,
) -> int:
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
        updates = []
        for row in rows:
            columns = rewrite(row)
            for name, value in columns.items():
                if isinstance(value, str) and name in limits:
                    columns[name] = _fit(value, limits[name], how.pseudonym)
            if columns:
                updates.append((row["pk"], columns))
        if updates:
            if how.inside:
                _apply(model, updates, how.pseudonym)
            else:
                with transaction.atomic():
                    _apply(model, updates, how.pseudonym)
            changed += len(updates)
        if how.heartbeat is not None:
            how.heartbeat()


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


def _audit_rewrite(user: User, rewriter: Rewriter, linked_ids: set[Any]) -> Callable[..., Any]:
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
        acted = row["actor_id"] == user.pk or (row["actor_id"] is None and changes)
        if acted:
            if row["ip"] and _network(row["ip"]) != row["ip"]:
                changes["ip"] = _network(row["ip"])
            if row["user_agent"]:
                changes["user_agent"] = ""
        return changes

    return rewrite


def rewrite_quotes(
    user: User,
    identifiers: Identifiers,
    pseudonym: str,
    *,
    since: Any = None,
    inside: bool = False,
    heartbeat: Callable[[], None] | None = None,
) -> dict[str, int]:
    """Step 2: every log that quotes people by address or name (only rows written at or after
    ``since``, when given; ``inside`` the caller's transaction, or a transaction per batch).
    Idempotent."""
    how = _Walk(pseudonym, inside=inside, heartbeat=heartbeat)

    def recent(queryset: Any, field_name: str) -> Any:
        return queryset if since is None else queryset.filter(**{f"{field_name}__gte": since})

    rewriter = Rewriter(identifiers, pseudonym)
    linked_ids = set(
        AuditEvent.objects.filter(_linked(user, identifiers.targets)).values_list("pk", flat=True)
    )
    counts = {
        "audit_events": _walk(
            recent(AuditEvent.objects.all(), "occurred_at"),
            ("actor_id", "actor_text", "target_text", "ip", "user_agent", "data"),
            _audit_rewrite(user, rewriter, linked_ids),
            how,
        )
    }

    def consent_rewrite(row: dict[str, Any]) -> dict[str, Any]:
        new = rewriter.text(row["actor_text"], linked=True)
        return {"actor_text": new} if new != row["actor_text"] else {}

    # Consent they recorded for others (an operator's staff): only who recorded it changes.
    counts["consent_events_recorded"] = _walk(
        recent(ConsentEvent.objects.filter(actor_id=user.pk), "recorded_at"),
        ("actor_text",),
        consent_rewrite,
        how,
    )

    user_type = _content_type_id(User)

    def log_entry_rewrite(row: dict[str, Any]) -> dict[str, Any]:
        linked = row["content_type_id"] == user_type and row["object_id"] == str(user.pk)
        changes = {}
        new = rewriter.text(row["object_repr"], linked=linked)
        if new != row["object_repr"]:
            changes["object_repr"] = new
        # The change message lists field names; only addresses could be in it.
        new = rewriter.text(row["change_message"], linked=False)
        if new != row["change_message"]:
            changes["change_message"] = new
        return changes

    counts["admin_log_entries"] = _walk(
        recent(LogEntry.objects.all(), "action_time"),
        ("content_type_id", "object_id", "object_repr", "change_message"),
        log_entry_rewrite,
        how,
    )

    # Invitations they sent name them in the subject ("Pat invited you"): those emails are
    # about them. Every other email only loses their proven addresses, and never a name.
    invited = {
        address.casefold()
        for address in Invitation.objects.filter(invited_by=user).values_list("email", flat=True)
    }

    def email_rewrite(row: dict[str, Any]) -> dict[str, Any]:
        theirs = row["template"] == INVITATION_TEMPLATE and row["to"].casefold() in invited
        changes = {}
        for name in ("subject", "text_body", "html_body", "last_error"):
            # Names in a subject only: a body is HTML, where a name like "Li" is also a tag.
            new = rewriter.text(row[name], linked=theirs, names=theirs and name == "subject")
            if new != row[name]:
                changes[name] = new
        return changes

    counts["outbound_emails"] = _walk(
        recent(
            OutboundEmail.objects.exclude(any_address("to", identifiers.everywhere)), "created_at"
        ),
        ("template", "to", "subject", "text_body", "html_body", "last_error"),
        email_rewrite,
        how,
    )
    return counts


def _content_type_id(model: type[models.Model]) -> int:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(model).pk


# --- The job -------------------------------------------------------------------------------------


# Rows that committed late (a request's transaction that began before the job) are caught by
# the final pass, which looks this far back from the job's start.
LATE_COMMIT_MARGIN = timedelta(minutes=5)


def erase(request_id: int) -> str:
    """Carry out one erasure request. Returns "erased", "on_hold", "failed" (gave up after
    ``MAX_ATTEMPTS``), or "skipped" (not due, not an open erasure, already done, or another
    worker has it)."""
    started = _start(request_id)
    if started is None or isinstance(started, str):
        return started or "skipped"
    erasure, identifiers = started
    began = erasure.started_at

    def heartbeat() -> None:  # a long pass must not look stalled to the sweep
        DataSubjectRequest.objects.filter(pk=request_id, status=Status.ERASING).update(
            started_at=timezone.now()
        )

    try:
        rewrite_quotes(erasure.user, identifiers, erasure.pseudonym, heartbeat=heartbeat)
        return _finish(request_id, since=(began or timezone.now()) - LATE_COMMIT_MARGIN)
    except Exception as exc:
        DataSubjectRequest.objects.filter(pk=request_id).update(
            last_error=f"{type(exc).__name__}: {exc}"[:200]
        )
        raise


def _start(request_id: int) -> tuple[DataSubjectRequest, Identifiers] | str | None:
    sessions: list[UserSession] = []
    with transaction.atomic():
        erasure = (
            DataSubjectRequest.objects.select_for_update(skip_locked=True)
            .select_related("user")
            .filter(pk=request_id, kind=Erasure, status__in=OPEN)
            .first()
        )
        if erasure is None:
            return None
        now = timezone.now()
        if erasure.status == Status.SCHEDULED and (erasure.scheduled_for or now) > now:
            return None
        if erasure.status == Status.ERASING:
            if erasure.started_at and erasure.started_at > now - STALLED_AFTER:
                return None  # another worker is on it
            if erasure.attempts >= MAX_ATTEMPTS:
                return _give_up(erasure)
        user = erasure.user
        blocking = blocking_organizations(user)
        if blocking:
            return _hold(erasure, blocking)
        erasure.attempts += 1
        erasure.status = Status.ERASING
        erasure.started_at = now
        if not erasure.pseudonym:
            erasure.pseudonym = f"erased-{secrets.token_hex(6)}"
        if erasure.identifiers is None:
            erasure.identifiers = collect(user).dumps()
        erasure.save(update_fields=["attempts", "status", "started_at", "pseudonym", "identifiers"])
        # From here on nobody signs in as them, and no export of them is built or sent.
        User.objects.filter(pk=user.pk).update(is_active=False)
        DataSubjectRequest.objects.filter(
            user=user,
            kind=DataSubjectRequest.Kind.EXPORT,
            status__in=(Status.PENDING, Status.READY),
        ).update(status=Status.FAILED, last_error="the account is being erased", completed_at=now)
        sessions = list(UserSession.objects.filter(user=user))
    for session in sessions:
        session.end()
    return erasure, Identifiers.loads(erasure.identifiers)  # type: ignore[arg-type]


def _give_up(erasure: DataSubjectRequest) -> str:
    erasure.status = Status.FAILED
    erasure.completed_at = timezone.now()
    erasure.last_error = f"gave up after {erasure.attempts} attempts: {erasure.last_error}"[:200]
    erasure.save(update_fields=["status", "completed_at", "last_error"])
    logger.error("erasure %s failed for good: %s", erasure.public_id, erasure.last_error)
    return "failed"


def _reactivate(erasure: DataSubjectRequest) -> None:
    """Undo what starting the job did to the account, when it stops short of erasing it."""
    if erasure.started_at is not None:
        User.objects.filter(pk=erasure.user_id, erased_at__isnull=True).update(is_active=True)


def _hold(erasure: DataSubjectRequest, blocking: list[Organization]) -> str:
    first_time = erasure.status != Status.ON_HOLD
    _reactivate(erasure)  # they need to sign in to hand the organization over
    erasure.status = Status.ON_HOLD
    erasure.last_error = "sole owner of an organization with other members"
    erasure.save(update_fields=["status", "last_error"])
    if first_time:
        record(
            Action.PRIVACY_ERASURE_ON_HOLD,
            actor_text=JOB_ACTOR,
            target=erasure.user,
            data={
                "request": str(erasure.public_id),
                "organizations": [str(org.public_id) for org in blocking],
            },
        )
        _email_everyone(
            erasure.user,
            "email/consent/erasure_on_hold",
            {
                "erasure": erasure,
                "organizations": blocking,
                "reason": _sole_owner_message(blocking),
            },
        )
    return "on_hold"


def _finish(request_id: int, *, since: Any) -> str:
    with transaction.atomic():
        erasure = (
            DataSubjectRequest.objects.select_for_update()
            .select_related("user")
            .filter(pk=request_id, kind=Erasure, status=Status.ERASING)
            .first()
        )
        if erasure is None:
            return "skipped"
        user = erasure.user
        # Ownership may have moved while the quotes were rewritten (a co-owner left, or is being
        # erased too): check again with their organizations locked, as member changes lock them.
        list(
            Organization.objects.select_for_update().filter(
                pk__in=Membership.objects.filter(
                    user=user, role=Role.OWNER, status=Membership.Status.ACTIVE
                ).values("organization_id")
            )
        )
        blocking = blocking_organizations(user)
        if blocking:
            return _hold(erasure, blocking)
        identifiers = Identifiers.loads(erasure.identifiers)  # type: ignore[arg-type]
        # Whatever quoted them while the first pass ran (a stranger trying their address).
        rewrite_quotes(user, identifiers, erasure.pseudonym, since=since, inside=True)
        addresses = _verified_addresses(user)
        old_public_id = user.public_id
        pseudonym = erasure.pseudonym
        # The tombstone first: audit events written below describe their rows by it.
        _tombstone(user, pseudonym)
        counts = _delete_their_rows(user, identifiers, pseudonym)
        erasure.status = Status.COMPLETED
        erasure.completed_at = timezone.now()
        erasure.identifiers = None
        erasure.download_token_hash = ""
        erasure.last_error = ""
        erasure.save(
            update_fields=[
                "status",
                "completed_at",
                "identifiers",
                "download_token_hash",
                "last_error",
            ]
        )
        record(
            Action.PRIVACY_USER_ERASED,
            actor_text=JOB_ACTOR,
            target=user,
            data={"request": str(erasure.public_id), "counts": counts},
        )
        _send_completion_email(addresses)
        transaction.on_commit(
            lambda: user_erased.send(sender=User, user=user, old_public_id=old_public_id)
        )
    return "erased"


def _delete_their_rows(user: User, identifiers: Identifiers, pseudonym: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for membership in Membership.objects.filter(user=user).select_related("organization"):
        membership.user = user  # the tombstone, so the event names the pseudonym
        if membership.status == Membership.Status.ACTIVE:
            record(
                Action.ORG_MEMBER_ERASED,
                actor_text=JOB_ACTOR,
                target=membership,
                organization=membership.organization,
                data={"role": membership.role, "user": pseudonym},
            )
    counts["memberships"] = Membership.objects.filter(user=user).delete()[0]
    # Only addresses they proved they held: an address someone added without proving it may be
    # a stranger's, whose invitations and email records are not the person's to erase.
    addresses = identifiers.everywhere
    invitations = Invitation.objects.filter(any_address("email", addresses) | Q(accepted_by=user))
    counts["open_invitations"] = invitations.filter(
        accepted_at__isnull=True, revoked_at__isnull=True
    ).delete()[0]
    closed = 0
    for invitation in invitations:
        # Each gets its own address: the open-invitation constraint is per (org, address).
        Invitation.objects.filter(pk=invitation.pk).update(
            email=f"{pseudonym}-{invitation.pk}@{ERASED_DOMAIN}"
        )
        closed += 1
    counts["closed_invitations"] = closed
    counts["outbound_emails"] = OutboundEmail.objects.filter(any_address("to", addresses)).delete()[
        0
    ]
    counts["email_addresses"] = EmailAddress.objects.filter(user=user).delete()[0]
    counts["linked_identities"] = SocialAccount.objects.filter(user=user).delete()[0]
    devices = 0
    for model in DEVICE_MODELS.values():
        devices += model.objects.filter(user=user).delete()[0]
    counts["mfa_devices"] = devices
    WebAuthnUserHandle.objects.filter(user=user).delete()
    for session in UserSession.objects.filter(user=user):
        session.end()  # any that appeared since the job started
    counts["sessions"] = UserSession.objects.filter(user=user).delete()[0]
    counts["consent_states"] = ConsentState.objects.filter(user=user).delete()[0]
    # Consent events stay as evidence, without where they came from (through the database's
    # function for it: the application may not update them).
    counts["consent_events_kept"] = evidence.clear_origins(user=user, pseudonym=pseudonym)
    counts["export_archives"] = ExportArchive.objects.filter(request__user=user).delete()[0]
    return counts


def _tombstone(user: User, pseudonym: str) -> None:
    user.email = f"{pseudonym}@{ERASED_DOMAIN}"
    user.display_name = ""
    user.blocked_reason = ""
    user.set_unusable_password()  # every session's auth hash stops matching too
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.mfa_required = False
    user.last_login = None
    user.public_id = uuid.uuid4()
    user.erased_at = timezone.now()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def _send_completion_email(addresses: list[str]) -> None:
    with outside_a_request():
        for address in addresses:
            get_adapter().queue_mail(
                "email/consent/erasure_completed", address, {}, forget_recipient=True
            )


# --- Evidence retention --------------------------------------------------------------------------


def purge_evidence() -> int:
    """Delete the consent events of people erased longer ago than
    ``GATEHOUSE_CONSENT_EVIDENCE_DAYS``, a batch per transaction, through the database's
    function for it (consent.evidence). Returns how many were deleted."""
    cutoff = timezone.now() - timedelta(days=settings.GATEHOUSE_CONSENT_EVIDENCE_DAYS)
    deleted = 0
    while True:
        with transaction.atomic():
            batch = evidence.purge_erased(cutoff=cutoff, batch=BATCH_SIZE)
        deleted += batch
        if batch < BATCH_SIZE:
            return deleted
