"""Joining organizations by verified email domain, when an address is verified or at login."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as allauth_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver


@receiver(auth_signals.user_logged_in, dispatch_uid="orgs_auto_join_on_login")
def auto_join_on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from organizations.services.domains import auto_join_by_domain

    # The login address only: other verified addresses were looked at when they were verified.
    auto_join_by_domain(user=user, emails=[user.email])


@receiver(allauth_signals.email_confirmed, dispatch_uid="orgs_auto_join_on_verified_email")
def auto_join_on_verified_email(sender: Any, request: Any, email_address: Any, **kw: Any) -> None:
    from organizations.services.domains import auto_join_by_domain

    auto_join_by_domain(user=email_address.user, emails=[email_address.email])
