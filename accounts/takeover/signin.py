"""What a sign-in leaves behind: its risk row, the device and network it came from (now
known), and the new-device email.

Called from ``AccountAdapter.login`` inside the login's transaction and its
``login_writes.together()`` block: the rows go into the login's one statement. The email is
the exception, rare by nature (a new device, at most a few an hour per person): its outbox
row is written at once, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.core.internal.httpkit import HTTP_USER_AGENT_MAX_LENGTH
from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts import login_writes, ratelimits
from accounts.devices import describe_parts, describe_user_agent
from accounts.takeover import risk
from accounts.takeover.models import KnownSign, SignInRisk
from accounts.takeover.stage import STEP_UP_KEY
from audit.actions import Action
from audit.services import record

DISOWN_SALT = "gatehouse.takeover.disown"


def record_sign_in(request: HttpRequest, user: Any) -> risk.Assessment:
    """Write this sign-in's risk row and remember its device and network."""
    assessment = risk.kept(request) or risk.assess(request, user)
    risk.forget(request)
    now = timezone.now()
    ip = get_adapter().get_client_ip(request)
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:HTTP_USER_AGENT_MAX_LENGTH]
    login_writes.add_row(
        SignInRisk(
            user=user,
            session_key=request.session.session_key or "",
            created_at=now,
            new_device=assessment.new_device and not assessment.first_device,
            new_network=assessment.new_network and not assessment.first_device,
            failures_before=assessment.failures_before,
            challenged=assessment.challenged,
            # Demanded, and passed (or the login would not be written).
            stepped_up=bool(request.session.pop(STEP_UP_KEY, False)),
            ip=ip,
            user_agent=user_agent[:512],
        )
    )
    if assessment.new_device:
        login_writes.add_row(
            KnownSign(
                user=user,
                kind=KnownSign.Kind.DEVICE,
                digest=assessment.device_digest,
                first_seen=now,
            )
        )
    if assessment.new_network and assessment.network_digest:
        login_writes.add_row(
            KnownSign(
                user=user,
                kind=KnownSign.Kind.NETWORK,
                digest=assessment.network_digest,
                first_seen=now,
            )
        )
    if assessment.new_device and not assessment.first_device:
        _email_new_device(request, user, assessment, user_agent)
    return assessment


def disown_token(*, user: Any, session_key: str) -> str:
    return signing.dumps({"u": user.pk, "s": session_key}, salt=DISOWN_SALT, compress=True)


def read_disown_token(token: str) -> tuple[int, str] | None:
    """The user id and session key a "This wasn't me" link is for; None when the link is
    forged, for another purpose, or too old."""
    try:
        data = signing.loads(
            token[:500], salt=DISOWN_SALT, max_age=settings.GATEHOUSE_DISOWN_LINK_AGE
        )
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    return data["u"], str(data.get("s") or "")


def _email_new_device(
    request: HttpRequest, user: Any, assessment: risk.Assessment, user_agent: str
) -> None:
    limit = ratelimits.Limit(*settings.GATEHOUSE_NEW_DEVICE_EMAILS)
    if not ratelimits.spend(f"new-device-email:{user.pk}", limit).allowed:
        return
    email = EmailAddress.objects.get_primary_email(user) or user.email
    browser, system = describe_parts(user_agent)
    token = disown_token(user=user, session_key=request.session.session_key or "")
    context = {
        "browser": browser,
        "system": system,
        "browser_name": describe_user_agent(user_agent) or "a new browser",
        "network": assessment.network,
        "timestamp": timezone.now(),
        # On PUBLIC_URL, not the request's host: the link must lead to the real site.
        "disown_url": settings.GATEHOUSE_PUBLIC_URL.rstrip("/")
        + reverse("takeover:disown", args=[token]),
        "days": max(1, settings.GATEHOUSE_DISOWN_LINK_AGE // 86400),
    }
    get_adapter().send_mail("accounts/email/new_sign_in", email, context)
    record(
        Action.LOGIN_NEW_DEVICE_NOTICE,
        actor=user,
        target=user,
        data={"browser": context["browser_name"], "network": assessment.network},
    )
