"""What the second-factor pages share: who is asking, where to go next, and what to say."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

from allauth.core import ratelimit
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration

from accounts.mfa import policy
from accounts.mfa.policy import Kind
from accounts.mfa.services.verification import throttled_until
from accounts.models import User

# The factors a person types a code from, in the order the pages offer them.
CODE_KINDS = (Kind.TOTP, Kind.BACKUP_CODE, Kind.EMAIL)


def signed_in_user(request: HttpRequest) -> User:
    """The signed-in user of a view behind login_required."""
    return cast(User, request.user)


def safe_next(request: HttpRequest, default: str) -> str:
    """The ``next`` address posted or asked for, if it stays on this site; else ``default``."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if next_url and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return default


def leads_to_admin(request: HttpRequest, next_url: str) -> bool:
    """Staff sent here by the admin (config/admin_site.py), which wants a strong factor."""
    path = urlsplit(next_url).path
    return signed_in_user(request).is_staff and path.startswith(reverse("admin:index"))


def email_code_quota(request: HttpRequest, user: User) -> Callable[[], bool]:
    """Spends one emailed code of the quota of ``user`` and of the client's address (allauth's
    "mfa_email_code" rate limit); False once it is spent."""
    return lambda: ratelimit.consume(request, action="mfa_email_code", user=user)


def passkey_config(request: HttpRequest, *, begin: str, complete: str) -> dict[str, Any]:
    """The passkey script's settings for an authentication ceremony at the URL names given."""
    return get_configuration(
        request,
        {"beginAuthenticationUrl": reverse(begin), "completeAuthenticationUrl": reverse(complete)},
    )


def _throttle_message(device_kind: Kind, user: User) -> str:
    model = policy.DEVICE_MODELS[device_kind]
    until = [throttled_until(d) for d in model.objects.filter(user=user, confirmed=True)]
    until = [u for u in until if u is not None]
    if until:
        seconds = max(1, int((min(until) - timezone.now()).total_seconds()) + 1)
        return f"Too many wrong codes. Try again in {seconds} seconds, or use another method."
    return "Too many wrong codes. Try again shortly, or use another method."


def failure_message(reason: str, kind: Kind, user: User) -> str:
    """What to tell someone whose code of ``kind`` did not pass, for ``reason``."""
    if reason == "throttled":
        return _throttle_message(kind, user)
    if reason == "unavailable":
        return "That method is not set up for this account."
    if kind == Kind.BACKUP_CODE:
        return "That backup code is wrong or has already been used."
    if kind == Kind.EMAIL:
        return "That code is wrong or has expired. Ask for a new one."
    return "That code is wrong. Check the time on your phone and try the newest code."


def email_code_message(request: HttpRequest, sent: bool, reason: str) -> None:
    """Tell the person whether a code was emailed, and if not, why."""
    if sent:
        minutes = max(1, settings.OTP_EMAIL_TOKEN_VALIDITY // 60)
        messages.success(request, f"We emailed you a code. It is valid for {minutes} minutes.")
    elif reason == "rate_limited":
        messages.error(request, "Too many codes were sent. Try again later, or use another way.")
    else:
        messages.error(request, "A code was sent a moment ago. Wait a minute before asking again.")
