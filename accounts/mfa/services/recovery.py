"""Recovery for a person who lost every second factor: a reset that waits before it acts.

Removing every factor is what an attacker who holds the password or the mailbox would want
most, so it never happens at once. Support (with a reason) or the person (at the second step
of a login) schedules it; it takes effect ``MFA_RESET_WAIT_HOURS`` later. Meanwhile every
verified address of the account is told, with a signed link that cancels it without signing
in; staff can cancel it in the admin. A beat job applies the resets that are due: it removes
the factors and the backup codes and ends the person's sessions, and tells them again.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.core.internal.httpkit import HTTP_USER_AGENT_MAX_LENGTH
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import extensions
from accounts.mfa import policy
from accounts.models import MFAReset, User
from accounts.services import clean_reason, end_sessions, outside_a_request
from audit import context as audit_context
from audit.actions import Action
from audit.services import record
from config.refusals import NotFound, Refusal, service

Status = MFAReset.Status
Via = MFAReset.Via

# The cancel link's signature is good for this purpose only (another signed value of Gatehouse
# cannot be passed off as one), and for no longer than a reset can stay pending, plus a day.
CANCEL_SALT = "gatehouse.accounts.mfa-reset.cancel"
CANCEL_LINK_SLACK = timedelta(days=1)
# How many due resets one run of the beat job applies; the next run takes the rest.
DUE_BATCH = 500
# How many resets the person may ask for in a day: someone with the password, cancelled each
# time, must not be able to flood every mailbox of the account with notices.
SELF_REQUESTS_PER_DAY = 3


def waiting_period() -> timedelta:
    return timedelta(hours=settings.GATEHOUSE_MFA_RESET_WAIT_HOURS)


def pending_reset(user: User) -> MFAReset | None:
    """The person's reset that has not yet taken effect nor been cancelled, if any."""
    return MFAReset.objects.filter(user=user, status=Status.PENDING).first()


# --- The cancel link ------------------------------------------------------------------------


def cancel_token(reset: MFAReset) -> str:
    return signing.dumps({"reset": str(reset.public_id)}, salt=CANCEL_SALT, compress=False)


def cancel_url(reset: MFAReset) -> str:
    path = reverse("mfa:reset-cancel", kwargs={"token": cancel_token(reset)})
    return settings.GATEHOUSE_PUBLIC_URL.rstrip("/") + path


class BadCancelLink(Refusal):
    """A cancel link whose signature is wrong or too old: nothing to say about any reset."""


def reset_for_token(token: str) -> MFAReset:
    """The reset a cancel link names; refused when the link was tampered with or expired."""
    max_age = waiting_period() + CANCEL_LINK_SLACK
    try:
        value = signing.loads(token, salt=CANCEL_SALT, max_age=max_age)
    except signing.SignatureExpired:
        raise BadCancelLink("This link has expired.") from None
    except signing.BadSignature:
        raise BadCancelLink("This link is not valid. Check that it was copied whole.") from None
    try:
        public_id = uuid.UUID(str(value["reset"]))
    except (TypeError, KeyError, ValueError):
        raise BadCancelLink("This link is not valid. Check that it was copied whole.") from None
    reset = MFAReset.objects.select_related("user").filter(public_id=public_id).first()
    if reset is None:
        raise BadCancelLink("This link is not valid. Check that it was copied whole.")
    return reset


# --- Telling the person ---------------------------------------------------------------------


def verified_addresses(user: User) -> list[str]:
    """Every address of the account proven by its holder. An unverified address proves
    nothing: telling it would hand a stranger who typed it the cancel link."""
    seen: dict[str, str] = {}
    for address in EmailAddress.objects.filter(user=user, verified=True).order_by("-primary", "pk"):
        seen.setdefault(address.email.lower(), address.email)
    return list(seen.values())


def tell_every_address(user: User, template: str, context: dict[str, Any]) -> int:
    """Queue ``accounts/email/<template>`` to every verified address, in the caller's
    transaction (the outbox). Whoever took over one mailbox cannot quietly let a reset go
    ahead: the other addresses hear of it too. Sent even where allauth's security notices are
    turned off (``ACCOUNT_EMAIL_NOTIFICATIONS``): here the notice is the defence, not a
    courtesy. Returns how many were queued."""
    addresses = verified_addresses(user)
    with outside_a_request():
        for address in addresses:
            get_adapter().send_mail(f"accounts/email/{template}", address, context)
    return len(addresses)


def _notice_context(reset: MFAReset) -> dict[str, Any]:
    """What the notices say: the reset, and where the change came from (the request's client
    address and browser as the audit log records them; none for the beat job)."""
    where = audit_context.current()
    return {
        "timestamp": timezone.now(),
        "ip": where.ip,
        "user_agent": where.user_agent[:HTTP_USER_AGENT_MAX_LENGTH],
        "user": reset.user,
        "reset": reset,
        "due_at": reset.due_at,
        "by_support": reset.via != Via.SELF,
        "wait_hours": settings.GATEHOUSE_MFA_RESET_WAIT_HOURS,
    }


# --- Scheduling, cancelling, applying ---------------------------------------------------------


@service
def schedule_mfa_reset(
    *, user: User, actor: Any, via: str, reason: str = "", proof: str = ""
) -> MFAReset:
    """Schedule the removal of every second factor of ``user`` after the waiting period.

    Support and the API must give a reason; the person asking for themselves gives ``proof``
    instead (how the login they are in the middle of began: "password", "code",
    "password_reset"). Returns the pending reset if there is one already (nobody is emailed
    again). Refuses an erased account."""
    via = Via(via)
    reason = clean_reason(reason) if via != Via.SELF else ""
    locked = User.objects.select_for_update().get(pk=user.pk)  # one request at a time
    if locked.erased_at is not None:
        raise NotFound("This account has been erased.")
    existing = pending_reset(locked)
    if existing is not None:
        return existing
    now = timezone.now()
    if via == Via.SELF:
        _refuse_too_many_self_requests(locked, now)
    try:
        with transaction.atomic():  # a savepoint: a racing request returns the winner's reset
            reset = MFAReset.objects.create(
                user=locked,
                via=via,
                requested_by=actor if isinstance(actor, User) else None,
                reason=reason,
                requested_at=now,
                due_at=now + waiting_period(),
            )
    except IntegrityError:
        existing = pending_reset(locked)
        if existing is None:
            raise
        return existing
    data: dict[str, Any] = {
        "reset": str(reset.public_id),
        "via": via.value,
        "due_at": reset.due_at.isoformat(),
    }
    if reason:
        data["reason"] = reason
    if proof:
        data["proof"] = proof
    told = tell_every_address(
        locked, "mfa_reset_scheduled", {**_notice_context(reset), "cancel_url": cancel_url(reset)}
    )
    data["addresses_told"] = told
    record(Action.MFA_RESET_REQUESTED, actor=actor, target=locked, data=data)
    return reset


def _refuse_too_many_self_requests(user: User, now: Any) -> None:
    recent = MFAReset.objects.filter(
        user=user, via=Via.SELF, requested_at__gte=now - timedelta(days=1)
    ).count()
    if recent >= SELF_REQUESTS_PER_DAY:
        raise Refusal(
            "A reset was asked for too many times today. Try again tomorrow, or contact support.",
            status=429,
        )


@service
def cancel_mfa_reset(
    *, reset: MFAReset, how: str, actor: Any = None, actor_text: str = "", reason: str = ""
) -> MFAReset:
    """Call off a pending reset. ``how`` says from where ("link", "admin", "security_page").
    Refuses (409) a reset already cancelled or applied: a cancel link works once."""
    locked = MFAReset.objects.select_for_update().select_related("user").get(pk=reset.pk)
    if locked.status == Status.CANCELLED:
        raise Refusal("This reset was already cancelled.", status=409)
    if locked.status == Status.APPLIED:
        raise Refusal(
            "This reset has already taken effect: the second factors were removed.", status=409
        )
    locked.status = Status.CANCELLED
    locked.cancelled_at = timezone.now()
    locked.cancelled_how = how
    locked.save(update_fields=["status", "cancelled_at", "cancelled_how"])
    data: dict[str, Any] = {"reset": str(locked.public_id), "how": how}
    if reason:
        data["reason"] = reason
    record(
        Action.MFA_RESET_CANCELLED,
        actor=actor,
        actor_text=actor_text,
        target=locked.user,
        data=data,
    )
    tell_every_address(locked.user, "mfa_reset_cancelled", _notice_context(locked))
    return locked


def remove_every_factor(user: User) -> int:
    """Delete every second factor of ``user``, backup codes included, in the caller's
    transaction. Returns how many were removed."""
    removed = 0
    for model in policy.DEVICE_MODELS.values():
        removed += model.objects.filter(user=user).delete()[1].get(model._meta.label, 0)
    return removed


@service
def apply_mfa_reset(*, reset_id: int) -> bool:
    """Carry out a pending reset whose waiting period is over: remove every factor and the
    backup codes, end the person's sessions and app tokens, tell every verified address.
    Returns False, doing nothing, when it is not pending or not yet due: running it twice, or
    for a reset cancelled meanwhile, is harmless."""
    reset = MFAReset.objects.select_for_update().select_related("user").filter(pk=reset_id).first()
    if reset is None or reset.status != Status.PENDING or reset.due_at > timezone.now():
        return False
    user = reset.user
    removed = remove_every_factor(user)
    ended = end_sessions(list(UserSession.objects.filter(user=user)))
    extensions.hooks.end_app_tokens(user=user, reason="mfa_reset", actor=None)
    reset.status = Status.APPLIED
    reset.applied_at = timezone.now()
    reset.save(update_fields=["status", "applied_at"])
    data: dict[str, Any] = {
        "reset": str(reset.public_id),
        "via": reset.via,
        "removed": removed,
        "sessions_ended": ended,
    }
    if reset.reason:
        data["reason"] = reset.reason
    record(Action.MFA_RESET, actor=None, actor_text="scheduled reset", target=user, data=data)
    tell_every_address(user, "mfa_reset", _notice_context(reset))
    return True


def due_resets() -> list[int]:
    """Pending resets whose waiting period is over, oldest first, one batch."""
    return list(
        MFAReset.objects.filter(status=Status.PENDING, due_at__lte=timezone.now())
        .order_by("due_at")
        .values_list("pk", flat=True)[:DUE_BATCH]
    )


def apply_due_resets() -> int:
    """Apply every due reset, each in its own transaction; returns how many took effect."""
    return sum(1 for pk in due_resets() if apply_mfa_reset(reset_id=pk))
