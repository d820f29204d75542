"""Gatehouse's policy on top of django-allauth's account flows."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts import login_writes, ratelimits, services, signup_code, user_sessions
from accounts.takeover import risk, signin, stuffing
from accounts.takeover.risk import network_of
from accounts.takeover.stage import REQUEST_FAILURES
from audit.actions import Action, Outcome
from audit.services import record
from organizations.branding.brand import email_brand


def _attempted_login(credentials: dict[str, Any]) -> str:
    return str(credentials.get("email") or credentials.get("username") or "")


def _wait(seconds: int) -> str:
    if seconds <= 60:
        return "in about a minute"
    return f"in about {math.ceil(seconds / 60)} minutes"


def throttled_login_message(retry_after: int) -> SafeString:
    """Why the password was not even checked, when to try again, and the ways in that do not
    need it: an emailed sign-in code, or a reset link (which also lifts the lock). The links
    take the typed address along (data-carry-email, static/gatehouse/ui.js)."""
    return format_html(
        "Too many failed sign-in attempts. Try again {}, or sign in now with "
        '<a href="{}" data-carry-email="#id_login">a code we email you</a> or a '
        '<a href="{}" data-carry-email="#id_login">password reset link</a>.',
        _wait(retry_after),
        reverse("account_request_login_code"),
        reverse("account_reset_password"),
    )


ALLAUTH_EMAIL_STAGE = "allauth.account.stages.EmailVerificationStage"
ENUMERATION_SAFE_EMAIL_STAGE = "accounts.enumeration.EmailVerificationStage"

EMAIL_MAX_LENGTH = 254  # RFC 5321's limit on a forward path, and the column's width


class AccountAdapter(DefaultAccountAdapter):
    def clean_email(self, email: str) -> str:
        """Every form that takes an address (sign-up, add email) passes through here."""
        email = super().clean_email(email)
        if len(email) > EMAIL_MAX_LENGTH:
            raise ValidationError(
                f"An email address can be at most {EMAIL_MAX_LENGTH} characters long."
            )
        return email

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Render now, deliver later: every email goes out through a Celery task."""
        self.queue_mail(template_prefix, email, context)

    def queue_mail(
        self,
        template_prefix: str,
        email: str,
        context: dict[str, Any],
        *,
        forget_recipient: bool = False,
        hold_back: bool = False,
    ) -> None:
        """``send_mail``, with the choice of forgetting the address once the email is out, or of
        holding the email back (see ``services.queue_email``)."""
        request = allauth_context.request
        site = get_current_site(request)
        # Emails greet people with the product's name, not the bare host name.
        current_site = SimpleNamespace(name=settings.GATEHOUSE_PRODUCT_NAME, domain=site.domain)
        ctx = {
            "request": request,
            "email": email,
            "current_site": current_site,
            # The sign-in's organization's logo and colour, or the operator's.
            "email_brand": email_brand(request),
        }
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        services.queue_email(
            template=template_prefix,
            message=message,
            forget_recipient=forget_recipient,
            hold_back=hold_back,
        )

    def send_confirmation_mail(
        self, request: HttpRequest, emailconfirmation: Any, signup: bool
    ) -> None:
        """allauth's verification email, with both ways to verify: the link, and the short code
        of a pending sign-up or login in this browser (accounts/signup_code.py) when the
        verification stage asked for one. Emails sent outside a login (the support admin's
        resend, an added address) carry the link only."""
        code = None
        if request is not None and getattr(request, "_gatehouse_issue_code", False):
            request._gatehouse_issue_code = False  # type: ignore[attr-defined]
            address = emailconfirmation.email_address
            code = signup_code.issue(request, email=address.email, user_id=address.user_id)
        self.send_code_mail(request, emailconfirmation, signup=signup, code=code)

    def send_code_mail(
        self, request: HttpRequest | None, emailconfirmation: Any, *, signup: bool, code: str | None
    ) -> None:
        ctx: dict[str, Any] = {
            "user": emailconfirmation.email_address.user,
            "key": emailconfirmation.key,
            "activate_url": self.get_email_confirmation_url(request, emailconfirmation),
            "code": code,
        }
        template = "account/email/email_confirmation" + ("_signup" if signup else "")
        self.send_mail(template, emailconfirmation.email_address.email, ctx)

    def send_account_already_exists_mail(self, email: str, *, hold_back: bool = False) -> None:
        """allauth's "you already have an account" email for a sign-up with a taken address;
        ``hold_back`` inside its cooldown (accounts.enumeration.EmailVerificationStage)."""
        from allauth.account.internal.flows.password_reset import get_reset_password_url
        from allauth.account.internal.flows.signup import get_signup_url

        request = allauth_context.request
        context = {
            "signup_url": get_signup_url(request),
            "password_reset_url": get_reset_password_url(request),
        }
        self.queue_mail("account/email/account_already_exists", email, context, hold_back=hold_back)

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        # Counted before the password is checked (see accounts/ratelimits.py); allauth calls
        # _rollback_login_failed_rl_usage below when the password turns out to be right.
        self._gatehouse_attempt = ratelimits.consume_attempt(
            ip=self.get_client_ip(request), email=_attempted_login(credentials)
        )
        # Failed passwords for this address just before: a risk signal if this one is right.
        setattr(request, REQUEST_FAILURES, self._gatehouse_attempt.email_attempts_before)
        if not self._gatehouse_attempt.allowed:
            raise ValidationError(
                throttled_login_message(self._gatehouse_attempt.retry_after),
                code="too_many_login_attempts",
            )

    def authentication_failed(self, request: HttpRequest, **credentials: Any) -> None:
        # Counted towards credential-stuffing detection (accounts/takeover/stuffing.py).
        ip = self.get_client_ip(request)
        switched_on = stuffing.record_failure(ip=ip, login=_attempted_login(credentials))
        if switched_on:
            record(
                Action.LOGIN_STUFFING_DETECTED,
                actor=None,
                actor_text="anonymous",
                outcome=Outcome.FAILURE,
                data={"signals": switched_on, "network": network_of(ip)},
            )

    def _rollback_login_failed_rl_usage(self) -> None:
        attempt = getattr(self, "_gatehouse_attempt", None)
        if attempt is not None:
            attempt.rollback()

    def _delete_login_attempts_cached_email(self, request: HttpRequest, **credentials: Any) -> None:
        # Called by allauth after a successful password reset: the owner proved control of the
        # mailbox, so the email's lockout ends.
        ratelimits.clear_email(_attempted_login(credentials))

    def get_login_stages(self) -> list[str]:
        # allauth's own (login code, email verification), the latter with Gatehouse's answer to
        # a sign-up with a taken address (accounts/enumeration.py); then the second factor.
        stages = [
            ENUMERATION_SAFE_EMAIL_STAGE if stage == ALLAUTH_EMAIL_STAGE else stage
            for stage in super().get_login_stages()
        ]
        # Then the sign-in's risk (accounts/takeover/stage.py), which the second factor reads.
        return [
            *stages,
            "accounts.takeover.stage.RiskStage",
            "accounts.mfa.stages.SecondFactorStage",
        ]

    def login(self, request: HttpRequest, user: AbstractBaseUser) -> None:
        """Every way in ends here. A login writes several rows (the last login time, its audit
        event, the session's row for the sessions page, organizations joined by domain, the
        session itself on the database backend): one transaction for them all, which is the
        caller's when the login is part of a larger write (a passkey's ceremony). The first
        three, the same at every login, go in one statement (accounts/login_writes.py)."""
        with transaction.atomic(savepoint=False), login_writes.together():
            super().login(request, user)
            user_sessions.record_login_session(request, user)
            signin.record_sign_in(request, user)
        # Once the login's audit event is written, so that it counts (progressive profiling).
        from accounts.profiling.prompts import note_due_after_login

        note_due_after_login(request, user)

    def post_login(self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> Any:
        response = super().post_login(request, user, **kwargs)
        # A browser seen for the first time gets the device id its sign-in was assessed with.
        risk.set_device_cookie(request, response)
        return response

    def get_logout_redirect_url(self, request: HttpRequest) -> str:
        # Read before the session ends: a session from a SAML connection with single logout
        # goes on to the IdP with a signed LogoutRequest (sso registers the hook).
        from accounts.extensions import hooks

        return hooks.idp_logout_url(request) or super().get_logout_redirect_url(request)

    def pre_login(
        self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any
    ) -> HttpResponse | None:
        if getattr(user, "is_blocked", False):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            record(
                Action.LOGIN_BLOCKED,
                actor=None,
                actor_text=str(user),
                target=user,
                outcome=Outcome.FAILURE,
            )
            return render(request, "account/blocked.html", status=403)
        # Checked after the password (or code, or passkey): it tells a guesser nothing. The
        # organizations' sign-in rules are sso's to apply (accounts.extensions).
        from accounts.extensions import hooks

        refusal = hooks.login_refusal(request, user, kwargs.get("signal_kwargs") or {})
        if refusal is not None:
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            return refusal
        return super().pre_login(request, user, **kwargs)
