"""Audit events for the account flows that django-allauth and django.contrib.auth carry out.

These flows write through allauth's own code, so their audit rows are recorded from the signals
allauth and Django send, in the same request and transaction as the change itself.
"""

from __future__ import annotations

from typing import Any

from allauth.account import signals as allauth_signals
from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver

from audit.actions import Action, Outcome
from audit.services import record

ATTEMPTED_LOGIN_MAX_LENGTH = 254


@receiver(allauth_signals.user_signed_up, dispatch_uid="audit_user_signed_up")
def audit_signed_up(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(Action.USER_SIGNED_UP, actor=user, target=user)


@receiver(auth_signals.user_logged_in, dispatch_uid="audit_user_logged_in")
def audit_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    method = None
    # The sign-in's risk signals (accounts/takeover/), assessed before the login was written.
    from accounts.takeover.risk import kept

    assessment = kept(request) if request is not None else None
    extra = {"risk": assessment.audit_data()} if assessment is not None else {}
    if request is not None and hasattr(request, "session"):
        from allauth.account.authentication import get_authentication_records

        records = get_authentication_records(request, user)
        # The first factor names the way in; the second step, if any, is added beside it.
        method = records[0].get("method") if records else None
        second = [r.get("type") for r in records if r.get("method") == "mfa"]
        if second:
            record(
                Action.LOGIN_SUCCEEDED,
                actor=user,
                target=user,
                data={"method": method, "second_factor": second[-1], **extra},
            )
            return
    record(Action.LOGIN_SUCCEEDED, actor=user, target=user, data={"method": method, **extra})


@receiver(auth_signals.user_login_failed, dispatch_uid="audit_user_login_failed")
def audit_login_failed(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    attempted = str(credentials.get("email") or credentials.get("username") or "")
    record(
        Action.LOGIN_FAILED,
        actor=None,
        actor_text=attempted[:ATTEMPTED_LOGIN_MAX_LENGTH] or "anonymous",
        outcome=Outcome.FAILURE,
        data={"login": attempted[:ATTEMPTED_LOGIN_MAX_LENGTH]},
    )


@receiver(allauth_signals.login_code_rejected, dispatch_uid="audit_login_code_rejected")
def audit_login_code_rejected(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(
        Action.LOGIN_CODE_REJECTED,
        actor=None,
        actor_text=str(user),
        target=user,
        outcome=Outcome.FAILURE,
        data={"last_attempt": bool(kwargs.get("last_attempt"))},
    )


@receiver(auth_signals.user_logged_out, dispatch_uid="audit_user_logged_out")
def audit_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None and user.is_authenticated:
        record(Action.LOGOUT, actor=user, target=user)


@receiver(allauth_signals.password_changed, dispatch_uid="audit_password_changed")
def audit_password_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(Action.PASSWORD_CHANGED, actor=user, target=user)


@receiver(allauth_signals.password_set, dispatch_uid="audit_password_set")
def audit_password_set(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record(Action.PASSWORD_SET, actor=user, target=user)


@receiver(allauth_signals.password_reset, dispatch_uid="audit_password_reset")
def audit_password_reset(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    # The person resetting is not signed in; they proved control of the mailbox.
    record(Action.PASSWORD_RESET, actor=None, actor_text=str(user), target=user)


@receiver(allauth_signals.email_added, dispatch_uid="audit_email_added")
def audit_email_added(sender: Any, request: Any, user: Any, email_address: Any, **kw: Any) -> None:
    record(Action.EMAIL_ADDED, actor=user, target=user, data={"email": email_address.email})


@receiver(allauth_signals.email_changed, dispatch_uid="audit_email_changed")
def audit_email_changed(
    sender: Any,
    request: Any,
    user: Any,
    from_email_address: Any,
    to_email_address: Any,
    **kwargs: Any,
) -> None:
    record(
        Action.EMAIL_CHANGED,
        actor=user,
        target=user,
        data={
            "from": getattr(from_email_address, "email", None),
            "to": to_email_address.email,
        },
    )


@receiver(allauth_signals.email_confirmed, dispatch_uid="audit_email_confirmed")
def audit_email_confirmed(sender: Any, request: Any, email_address: Any, **kwargs: Any) -> None:
    user = email_address.user
    actor = request.user if request is not None and request.user.is_authenticated else None
    record(
        Action.EMAIL_VERIFIED,
        actor=actor,
        actor_text="" if actor else str(user),
        target=user,
        data={"email": email_address.email},
    )


@receiver(allauth_signals.email_removed, dispatch_uid="audit_email_removed")
def audit_email_removed(
    sender: Any, request: Any, user: Any, email_address: Any, **kwargs: Any
) -> None:
    record(Action.EMAIL_REMOVED, actor=user, target=user, data={"email": email_address.email})
