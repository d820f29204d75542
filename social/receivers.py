"""Audit events for what allauth writes itself in social login: the account a social sign-up
creates, the identity linked or unlinked at /account/, a sign-in with a linked identity. They
are recorded from allauth's signals, in the request that made the change."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.socialaccount import signals
from django.dispatch import receiver

from audit.actions import Action
from audit.services import record
from social.allauth_apps import row_of
from social.models import PROVIDER_ID_PREFIX


def _slug(provider: str) -> str:
    return provider.removeprefix(PROVIDER_ID_PREFIX)


@receiver(account_signals.user_signed_up, dispatch_uid="social_user_signed_up")
def audit_social_signup(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    row = row_of(kwargs.get("sociallogin"))
    if row is not None:
        record(Action.SOCIAL_USER_CREATED, actor=user, target=user, data={"provider": row.slug})


@receiver(account_signals.user_logged_in, dispatch_uid="social_user_logged_in")
def audit_social_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    row = row_of(kwargs.get("sociallogin"))
    if row is not None:
        record(Action.SOCIAL_LOGIN_SUCCEEDED, actor=user, target=user, data={"provider": row.slug})


@receiver(signals.social_account_added, dispatch_uid="social_account_added")
def audit_linked(sender: Any, request: Any, sociallogin: Any, **kwargs: Any) -> None:
    account = sociallogin.account
    if account.provider.startswith(PROVIDER_ID_PREFIX):
        record(
            Action.SOCIAL_IDENTITY_LINKED,
            actor=account.user,
            target=account.user,
            data={"provider": _slug(account.provider), "after": "step_up"},
        )


@receiver(signals.social_account_removed, dispatch_uid="social_account_removed")
def audit_unlinked(sender: Any, request: Any, socialaccount: Any, **kwargs: Any) -> None:
    if socialaccount.provider.startswith(PROVIDER_ID_PREFIX):
        record(
            Action.SOCIAL_IDENTITY_UNLINKED,
            actor=socialaccount.user,
            target=socialaccount.user,
            data={"provider": _slug(socialaccount.provider)},
        )
