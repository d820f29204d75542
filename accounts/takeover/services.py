"""The write path for "This wasn't me": one transaction, audited, harmless when repeated."""

from __future__ import annotations

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.utils import timezone

from accounts import extensions
from accounts.models import User
from accounts.services import end_sessions, outside_a_request
from accounts.takeover.models import SignInRisk
from audit.actions import Action
from audit.services import record
from config.refusals import service


@service
def disown_sign_in(*, user: User, session_key: str) -> bool:
    """The person says the sign-in of ``session_key`` was not theirs: end every session of
    theirs (and the app tokens issued through them), take the password away (whoever signed
    in knows it) and email a reset link. Returns False when this was already done for that
    sign-in: nothing is ended or sent twice."""
    user = User.objects.select_for_update().get(pk=user.pk)
    sign_in = (
        SignInRisk.objects.select_for_update()
        .filter(user=user, session_key=session_key)
        .order_by("-pk")
        .first()
    )
    if sign_in is not None and sign_in.disowned_at is not None:
        return False
    ended = end_sessions(list(UserSession.objects.filter(user=user)))
    extensions.hooks.end_app_tokens(user=user, reason="sign_in_disowned", actor=user)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    if sign_in is not None:
        sign_in.disowned_at = timezone.now()
        sign_in.save(update_fields=["disowned_at"])
    _send_reset(user)
    record(
        Action.LOGIN_DISOWNED,
        actor=user,
        target=user,
        data={
            "sessions_ended": ended,
            "sign_in_ip": sign_in.ip if sign_in else None,
            "reset_sent": True,
        },
    )
    return True


def _send_reset(user: User) -> None:
    """allauth's own password-reset email (its token, its link, on PUBLIC_URL)."""
    from allauth.account.internal.flows.password_reset import request_password_reset

    email = EmailAddress.objects.get_primary_email(user) or user.email
    with outside_a_request() as stand_in:
        request_password_reset(stand_in, email, [user], default_token_generator)
