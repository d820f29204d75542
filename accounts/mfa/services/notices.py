"""Emails that tell people about changes to their second factors."""

from __future__ import annotations

from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.models import EmailAddress
from allauth.core.internal.httpkit import HTTP_USER_AGENT_MAX_LENGTH
from django.utils import timezone

from accounts.models import User
from accounts.services import outside_a_request
from audit import context as audit_context


def notify(user: User, template: str, **context: Any) -> None:
    """Email ``user`` the security notice ``accounts/email/<template>``, with where the change
    came from (the client address and browser of the request it is made for, as the audit log
    records them) and links on PUBLIC_URL. Queued in the caller's transaction."""
    if not allauth_settings.EMAIL_NOTIFICATIONS:
        return
    email = EmailAddress.objects.get_primary_email(user)
    if not email:
        return
    where = audit_context.current()
    facts = {
        "timestamp": timezone.now(),
        "ip": where.ip,
        "user_agent": where.user_agent[:HTTP_USER_AGENT_MAX_LENGTH],
        **context,
    }
    with outside_a_request():
        get_adapter().send_mail(f"accounts/email/{template}", email, facts)
