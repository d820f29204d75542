"""Gatehouse's versions of allauth's pages, served at allauth's own addresses (accounts/urls.py).

Requests are not wrapped in a transaction, so a page whose flow writes several rows through
allauth (and the receivers of its signals) owns the one they are written in.
"""

from __future__ import annotations

from typing import Any

from allauth.account import views as allauth_views
from django.db import transaction
from django.forms import Form
from django.http import Http404, HttpResponse


class SignupView(allauth_views.SignupView):
    """allauth's sign-up, its writes in one transaction: the account with its address and
    consents, its audit event, and its verification email (sent once it commits).

    A sign-up with a taken address goes through the same transaction, doing a new account's
    work on a throwaway one in a savepoint that it rolls back (accounts/enumeration.py)."""

    def form_valid(self, form: Form) -> HttpResponse:
        with transaction.atomic(durable=True):
            return super().form_valid(form)


class ConfirmEmailView(allauth_views.ConfirmEmailView):
    """allauth's confirmation page, its writes (the address verified and made primary, the
    audit event, organizations joined by its domain) in one transaction. An expired or unknown
    link posted back gets the same "this link expired or is invalid" page as when it is
    opened, not a bare 404."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            with transaction.atomic(durable=True):
                return super().post(*args, **kwargs)
        except Http404:
            self.object = None
            return self.render_to_response(self.get_context_data(), status=400)


class PasswordChangeView(allauth_views.PasswordChangeView):
    """allauth's password change, in one transaction: the new hash, the other sessions ended,
    the audit event and the notice to the address (sent once it commits)."""

    def form_valid(self, form: Form) -> HttpResponse:
        with transaction.atomic(durable=True):
            return super().form_valid(form)


class PasswordSetView(allauth_views.PasswordSetView):
    """allauth's first password for an account that had none, in one transaction."""

    def form_valid(self, form: Form) -> HttpResponse:
        with transaction.atomic(durable=True):
            return super().form_valid(form)


class PasswordResetFromKeyView(allauth_views.PasswordResetFromKeyView):
    """allauth's new password from an emailed link, in one transaction: the hash, the spent
    link, the sessions ended, the audit event and the notice."""

    def form_valid(self, form: Form) -> HttpResponse:
        with transaction.atomic(durable=True):
            return super().form_valid(form)


class EmailView(allauth_views.EmailView):
    """allauth's address book, each action in one transaction: adding an address with its
    verification email and audit event, removing one, making one primary (two rows and the
    account's own address)."""

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        with transaction.atomic(durable=True):
            return super().post(*args, **kwargs)


signup = SignupView.as_view()
confirm_email = ConfirmEmailView.as_view()
password_change = PasswordChangeView.as_view()
password_set = PasswordSetView.as_view()
password_reset_from_key = PasswordResetFromKeyView.as_view()
email = EmailView.as_view()
