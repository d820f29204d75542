"""The write path for accounts: every change to a user made by Gatehouse's own code.

Each service owns its transaction (``@service``: durable, so it is committed when it returns),
records its audit event in it, and defers email until it commits. Ending sessions is not
deferred: the session store is not transactional, and a block that rolls back after signing
someone out errs on the safe side. Calling one twice with the same input is harmless.
Services refuse with ``config.refusals.Refusal``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from allauth.account.models import EmailAddress
from allauth.core import context as allauth_context
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import extensions
from accounts.models import OutboundEmail, User, address_is
from audit.actions import Action
from audit.services import record
from config.refusals import Refusal, service

logger = logging.getLogger(__name__)

REASON_MAX_LENGTH = 1000


def clean_reason(reason: str) -> str:
    """The reason a staff member gave for an action, trimmed; refused when it is empty or too
    long to keep in the audit log."""
    reason = (reason or "").strip()
    if not reason:
        raise Refusal("A reason is required.")
    if len(reason) > REASON_MAX_LENGTH:
        raise Refusal(f"Keep the reason under {REASON_MAX_LENGTH} characters.")
    return reason


# --- Email ------------------------------------------------------------------------------------


class _PublicURLRequest(HttpRequest):
    """A request to PUBLIC_URL, made up by Gatehouse: its host and scheme are the setting's,
    not a client's, so they need no checking against ALLOWED_HOSTS or a proxy's header."""

    def __init__(self, public_url: str) -> None:
        super().__init__()
        self._public_url = urlsplit(public_url)
        parts = self._public_url
        self.META["HTTP_HOST"] = parts.netloc
        self.META["SERVER_PORT"] = str(parts.port or (443 if parts.scheme == "https" else 80))
        if parts.scheme == "https":
            self.META["HTTP_X_FORWARDED_PROTO"] = "https"
            self.META["wsgi.url_scheme"] = "https"

    def get_host(self) -> str:
        return self._public_url.netloc

    def _get_scheme(self) -> str:
        return self._public_url.scheme or "https"


@contextmanager
def outside_a_request() -> Iterator[HttpRequest]:
    """For emails sent by a service or a job: allauth's mail rendering reads the current request
    (for the site's name and links), so stand in one for PUBLIC_URL, whose links the email
    then carries whatever request (if any) the service runs for. Yields the stand-in."""
    request = _PublicURLRequest(settings.GATEHOUSE_PUBLIC_URL)
    with allauth_context.request_context(request):
        yield request


def queue_email(
    *,
    template: str,
    message: EmailMessage,
    forget_recipient: bool = False,
    hold_back: bool = False,
) -> OutboundEmail:
    """Store a rendered message and send it from a Celery task once the caller's transaction
    commits (at once, outside one). With ``forget_recipient`` the row drops the address once
    the email is out (or failed for good).

    With ``hold_back`` the email is recorded as held back and never sent; it is written in
    full and its task queued all the same (the task only erases its body). That is on purpose:
    holding an email back must cost the request what sending it does (accounts/enumeration.py).
    """
    from accounts.tasks import send_email

    html_body = ""
    if isinstance(message, EmailMultiAlternatives):
        for content, mimetype in message.alternatives:
            if mimetype == "text/html":
                html_body = str(content)
    text_body = str(message.body) if message.content_subtype == "plain" else ""
    html_body = html_body or (str(message.body) if message.content_subtype == "html" else "")
    outbound = OutboundEmail.objects.create(
        template=template[:200],
        to=message.to[0],
        forget_recipient=forget_recipient,
        from_email=message.from_email,
        subject=str(message.subject),
        text_body=text_body,
        html_body=html_body,
        status=OutboundEmail.Status.HELD_BACK if hold_back else OutboundEmail.Status.QUEUED,
    )
    transaction.on_commit(lambda: send_email.delay(str(outbound.pk)), robust=True)
    return outbound


# --- Profile ----------------------------------------------------------------------------------


@service
def update_profile(*, user: User, display_name: str, actor: Any = None) -> User:
    """Change the display name; ``actor`` is who did it when not the person (the API)."""
    display_name = display_name.strip()
    if display_name == user.display_name:
        return user
    before = user.display_name
    user.display_name = display_name
    user.save(update_fields=["display_name"])
    record(
        Action.PROFILE_UPDATED,
        actor=actor or user,
        target=user,
        data={"display_name": {"from": before, "to": display_name}},
    )
    return user


# --- Sessions ---------------------------------------------------------------------------------


def end_sessions(sessions: list[UserSession]) -> int:
    """End each session (its store entry and its row); returns how many. No transaction of its
    own: the session store is not transactional."""
    for session in sessions:
        session.end()
    return len(sessions)


@service
def revoke_session(*, user: User, session_id: int, actor: User) -> bool:
    """End one of ``user``'s sessions. Returns False if it is not theirs or already gone."""
    session = UserSession.objects.filter(user=user, pk=session_id).first()
    if session is None:
        return False
    end_sessions([session])
    # The OAuth tokens issued through that session end with it (provider.hooks).
    extensions.hooks.end_app_tokens(
        user=user, reason="session_revoked", actor=actor, session_keys=[session.session_key]
    )
    record(
        Action.SESSION_REVOKED,
        actor=actor,
        target=user,
        data={"session": session.pk, "session_ip": session.ip},
    )
    return True


@service
def revoke_all_sessions(
    *, user: User, actor: User, keep_session_key: str | None = None, reason: str | None = None
) -> int:
    """End every session of ``user`` (but ``keep_session_key``, if given). Support staff give
    a ``reason`` (refused when empty), kept in the audit event."""
    if reason is not None:
        reason = clean_reason(reason)
    sessions = [
        session
        for session in UserSession.objects.filter(user=user)
        if session.session_key != keep_session_key
    ]
    count = end_sessions(sessions)
    extensions.hooks.end_app_tokens(
        user=user, reason="signed_out_everywhere", actor=actor, keep_session_key=keep_session_key
    )
    record(
        Action.SESSIONS_REVOKED_ALL,
        actor=actor,
        target=user,
        data={
            "sessions_ended": count,
            "kept_current": keep_session_key is not None,
            **({"reason": reason} if reason else {}),
        },
    )
    return count


# --- Support actions --------------------------------------------------------------------------


@service
def block_user(*, user: User, actor: User, reason: str) -> User:
    """Block ``user``: they cannot log in, and every session they have ends now."""
    reason = clean_reason(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_blocked:
        return user
    user.is_blocked = True
    user.blocked_reason = reason
    user.blocked_at = timezone.now()
    user.save(update_fields=["is_blocked", "blocked_reason", "blocked_at"])
    ended = end_sessions(list(UserSession.objects.filter(user=user)))
    extensions.hooks.end_app_tokens(user=user, reason="blocked", actor=actor)
    record(
        Action.USER_BLOCKED,
        actor=actor,
        target=user,
        data={"reason": reason, "sessions_ended": ended},
    )
    return user


@service
def unblock_user(*, user: User, actor: User, reason: str) -> User:
    reason = clean_reason(reason)
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_blocked:
        return user
    previous_reason = user.blocked_reason
    user.is_blocked = False
    user.blocked_reason = ""
    user.blocked_at = None
    user.save(update_fields=["is_blocked", "blocked_reason", "blocked_at"])
    record(
        Action.USER_UNBLOCKED,
        actor=actor,
        target=user,
        data={"reason": reason, "was_blocked_for": previous_reason},
    )
    return user


# The admin's change form saves inside a transaction of its own (with the many-to-many fields
# and inlines after this), so this joins it.
@service(durable=False)
def record_staff_edit(*, user: User, actor: User, changed_fields: list[str]) -> User:
    """Save a user edited on the admin's change form, recording which fields changed.

    Many-to-many fields (groups, permissions) are saved by the admin after this; their new
    values are recorded here from the form's point of view as field names only.
    """
    user.save()
    if changed_fields:
        record(
            Action.USER_EDITED_BY_STAFF,
            actor=actor,
            target=user,
            data={
                "fields": sorted(changed_fields),
                "values": {
                    name: getattr(user, name)
                    for name in sorted(changed_fields)
                    if name in STAFF_EDIT_SCALAR_FIELDS
                },
            },
        )
    return user


STAFF_EDIT_SCALAR_FIELDS = frozenset(
    {"display_name", "is_active", "is_staff", "is_superuser", "mfa_required"}
)


@service
def resend_verification(*, user: User, actor: User, reason: str) -> bool:
    """Send a fresh verification email for ``user``'s unverified primary address, its link on
    PUBLIC_URL.

    Returns False (and sends nothing) when every address is already verified.
    """
    reason = clean_reason(reason)
    address = (
        EmailAddress.objects.filter(user=user, verified=False).order_by("-primary", "id").first()
    )
    if address is None:
        return False
    with outside_a_request() as stand_in:
        address.send_confirmation(stand_in, signup=False)
    record(
        Action.EMAIL_VERIFICATION_RESENT,
        actor=actor,
        target=user,
        data={"email": address.email, "reason": reason},
    )
    return True


# --- Accounts created by the operator's backends --------------------------------------------


@service
def create_user(
    *,
    actor: Any,
    email: str,
    display_name: str = "",
    email_verified: bool = False,
    send_verification_email: bool = True,
) -> User:
    """An account for ``email``, with no password: the person signs in by emailed code or sets
    one through the password reset. ``email_verified`` is the operator's word that the address
    is proven (then no email is sent); otherwise the address is unverified and, unless
    ``send_verification_email`` is False, the person is sent the link that verifies it."""
    email = User.objects.normalize_email((email or "").strip()).lower()
    if User.objects.filter(address_is(email)).exists():
        raise Refusal("An account with this email address exists.", status=409)
    if EmailAddress.objects.filter(address_is(email), verified=True).exists():
        raise Refusal("An account with this email address exists.", status=409)
    try:
        with transaction.atomic():  # a savepoint: a racing request may have taken the address
            user = User.objects.create_user(
                email=email, password=None, display_name=display_name.strip()
            )
    except IntegrityError:
        raise Refusal("An account with this email address exists.", status=409) from None
    address = EmailAddress.objects.create(
        user=user, email=email, verified=email_verified, primary=True
    )
    sent = not email_verified and send_verification_email
    if sent:
        with outside_a_request() as stand_in:
            address.send_confirmation(stand_in, signup=False)
    record(
        Action.OAUTH_API_USER_CREATED,
        actor=actor,
        target=user,
        data={"email": email, "email_verified": email_verified, "verification_sent": sent},
    )
    return user
