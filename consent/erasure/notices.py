"""The emails an erasure sends: to every address of the account while it exists, and a last one
that forgets its recipients once the account is gone. Written to the outbox in the caller's
transaction, so a change that rolls back sends nothing."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.urls import reverse

from accounts.models import User
from accounts.services import outside_a_request
from consent.addresses import account_addresses


def email_everyone(user: User, template: str, context: dict[str, Any]) -> None:
    """Tell every verified address: someone who took over one mailbox cannot quietly delete
    (or keep) the account without the others hearing of it."""
    context = {
        "user": user,
        "privacy_url": settings.GATEHOUSE_PUBLIC_URL.rstrip("/") + reverse("consent:privacy"),
        **context,
    }
    with outside_a_request():
        for address in account_addresses(user):
            get_adapter().send_mail(template, address, context)


def send_completion_email(addresses: list[str]) -> None:
    """The account is gone: say so, and keep no record of where it was sent."""
    with outside_a_request():
        for address in addresses:
            get_adapter().queue_mail(
                "email/consent/erasure_completed", address, {}, forget_recipient=True
            )
