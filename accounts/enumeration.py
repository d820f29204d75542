"""A taken address and a free one cost Gatehouse the same work.

allauth's enumeration prevention makes sign-up, password reset and login-code requests *answer*
alike whether or not an address has an account. A stranger who times the answers learns as much
as one who reads them, so the *work* behind each answer has to be alike too. Path by path:

- Sign-up with a taken address: ``sign_up_decoy`` makes a new account's writes and reads (the
  password hash, the user, consent events with signed receipts, the address, the audit event,
  the checks its first login makes) on a throwaway account, in a savepoint of the sign-up's
  transaction (accounts.allauth_flows.SignupView) that is rolled back, where a new account's
  savepoint (``SignupForm.save``) is released.
  Then ``EmailVerificationStage`` sends the owner the "account exists" email in place of a
  verification email, with the same message on the next page, even inside that email's
  cooldown: there the email is still rendered, written and queued, but held back (never sent),
  where allauth would skip the email and the message, and so answer faster and differently.
- Password reset and login code: ``users_by_email`` finds the accounts an address names with
  the same two queries whether there are any or not (allauth's lookup skips its second query
  once a verified address matches). A reset for an unknown address computes a reset token for
  nobody (``spend_like_a_reset_token``), as a known address's reset computes a real one; the
  token generator (``accounts.tokens``) reads the account's addresses in one query.
- A wrong login code: audited whether or not the address has an account (an address without
  one was sent no code, but a guess at it is audited too: ``record_code_rejected_without_account``).

tests/accounts/test_enumeration_work.py pins the structure (the same queries, password hashes,
cache calls and queued emails on both paths of each endpoint); bench/enumeration.py times it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.app_settings import EmailVerificationMethod
from allauth.account.internal.flows.email_verification import (
    add_email_verification_sent_message,
    get_address_for_user,
    handle_verification_email_rate_limit,
)
from allauth.account.models import EmailAddress, EmailConfirmationHMAC
from allauth.account.stages import EmailVerificationStage as AllauthEmailVerificationStage
from allauth.account.utils import has_verified_email, setup_user_email
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse

from accounts import signup_code
from accounts.auth_backends import came_through_verified_address
from accounts.models import User
from audit.actions import Action, Outcome
from audit.services import record

if TYPE_CHECKING:
    from accounts.forms import SignupForm

DECOY_DOMAIN = "signup.invalid"  # RFC 2606: can never be a real mailbox


# --- Sign-up ------------------------------------------------------------------------------------


class _DecoyForm:
    """What allauth's ``save_user`` reads from a sign-up form: its cleaned data, here with the
    decoy's address in place of the taken one."""

    def __init__(self, cleaned_data: dict[str, Any], email: str) -> None:
        self.cleaned_data = {**cleaned_data, "email": email}


def sign_up_decoy(request: HttpRequest, *, form: SignupForm) -> str:
    """Cost a sign-up with a taken address as much as a new account, up to its email.

    The same calls a new account goes through (allauth's ``save_user`` with its password hash,
    the form's consents, ``setup_user_email``, the sign-up's audit event, then what
    ``complete_signup`` reads before its verification email: ``pre_login``'s checks, whether
    an address is verified, the address to write to and its confirmation key), made on a
    throwaway account inside a savepoint that is rolled back (the sign-up's transaction is
    around it). Writes nothing that outlives the call; the email itself is
    ``EmailVerificationStage``'s. Returns the password's hash, which a new account's sign-up
    keeps for a change of address as well (accounts/signup_change.py).
    """
    return _decoy(request, form.cleaned_data, password_hash=None, consents=form.custom_signup)


def sign_up_decoy_again(
    request: HttpRequest, *, password_hash: str, consents: Callable[[Any, Any], None]
) -> None:
    """A change of address to a taken one on the waiting page: a new account's work there
    (accounts/signup_change.py), with the password already hashed, on a throwaway account."""
    _decoy(request, {}, password_hash=password_hash, consents=consents)


def social_sign_up_decoy(request: HttpRequest, *, form: Any) -> None:
    """A social sign-up (social.forms.SocialSignupForm) with a taken address: a new account's
    work there (no password; its consents, address and identity row) on a throwaway account."""
    from allauth.socialaccount.models import SocialAccount

    def consents_and_identity(request: HttpRequest, decoy: Any) -> None:
        form.record_consents(decoy)
        provider = form.sociallogin.account.provider
        SocialAccount.objects.create(user=decoy, provider=provider, uid=uuid.uuid4().hex)
        # As social.receivers records a social sign-up's account.
        record(
            Action.SOCIAL_USER_CREATED,
            actor=decoy,
            target=decoy,
            data={"provider": provider.removeprefix("social.")},
        )

    _decoy(request, form.cleaned_data, password_hash=None, consents=consents_and_identity)


def _decoy(
    request: HttpRequest,
    cleaned_data: dict[str, Any],
    *,
    password_hash: str | None,
    consents: Callable[[Any, Any], None],
) -> str:
    adapter = get_adapter(request)
    email = f"decoy-{uuid.uuid4().hex}@{DECOY_DOMAIN}"
    # setup_user_email gives a new account the address the visitor already proved they own
    # (stashed in the session by an earlier flow); that address is not the decoy's to take.
    stashed = adapter.unstash_verified_email(request)
    try:
        with transaction.atomic():
            decoy = adapter.new_user(request)
            form = _DecoyForm(cleaned_data, email)
            adapter.save_user(request, decoy, form, commit=password_hash is None)  # type: ignore[arg-type]
            if password_hash is not None:
                decoy.password = password_hash
                decoy.save()
            hashed = str(decoy.password)
            consents(request, decoy)
            # A sign-up's form gives its address along (SignupForm.save's caller); a change of
            # address has only the account's own field (accounts/signup_change.py).
            given = [EmailAddress(email=email)] if password_hash is None else []
            setup_user_email(request, decoy, given)
            record(Action.USER_SIGNED_UP, actor=decoy, target=decoy)  # as accounts.receivers
            adapter.pre_login(
                request,
                decoy,
                email_verification=allauth_settings.EMAIL_VERIFICATION,
                signal_kwargs={},
                email=None,
                signup=True,
                redirect_url=None,
            )
            if not has_verified_email(decoy):
                address = get_address_for_user(decoy)
                if address is not None:
                    # The confirmation email names its account, fetched afresh, and carries
                    # a signed key.
                    _ = address.user.pk
                    _ = EmailConfirmationHMAC(address).key
            transaction.set_rollback(True)
    finally:
        if stashed:
            adapter.stash_verified_email(request, stashed)
    return hashed


class EmailVerificationStage(AllauthEmailVerificationStage):
    """allauth's stage, except where a sign-up met a taken address (a login with no user, which
    allauth's enumeration prevention starts): the owner gets the "account exists" email and
    the visitor the message a new account gets, whether or not that email is in its cooldown.
    """

    def handle(self) -> tuple[HttpResponse | None, bool]:
        login = self.login
        taken_signup = login.user is None and login.signup and bool(login.email)
        by_link = (
            allauth_settings.EMAIL_VERIFICATION == EmailVerificationMethod.MANDATORY
            and not allauth_settings.EMAIL_VERIFICATION_BY_CODE_ENABLED
        )
        if not (taken_signup and by_link):
            # A login (not a sign-up: its address is new, and its work must stay the same as
            # sign_up_decoy's) whose address is verified: allauth's stage would do nothing.
            if login.user and not login.signup and _login_address_verified(login.user, login.email):
                return None, True
            # The verification email carries a code for this browser as well as its link
            # (AccountAdapter.send_confirmation_mail, accounts/signup_code.py).
            self.request._gatehouse_issue_code = True  # type: ignore[attr-defined]
            try:
                response, cont = super().handle()
            finally:
                unsent = getattr(self.request, "_gatehouse_issue_code", False)
                self.request._gatehouse_issue_code = False  # type: ignore[attr-defined]
            if unsent and login.signup and login.user is not None and login.email:
                # No email went out (its cooldown): the waiting page still asks for a code,
                # as it does for a taken address.
                signup_code.issue(self.request, email=str(login.email), user_id=login.user.pk)
            return response, cont
        email = str(login.email)
        # The cooldown a new account's verification email passes through too. Inside it the
        # owner is not emailed again, but the email is still rendered, written and queued (held
        # back): skipping that work, or the message, would show the address is taken.
        deliver = handle_verification_email_rate_limit(self.request, email)
        adapter = get_adapter(self.request)
        # A code for the waiting page, kept like a new account's and never sent (nothing can
        # match it): the page, its forms and its answers are a new account's.
        signup_code.issue(self.request, email=email, user_id=None)
        adapter.send_account_already_exists_mail(email, hold_back=not deliver)
        add_email_verification_sent_message(self.request, email, signup=True)
        return adapter.respond_email_verification_sent(self.request, None), True


def _login_address_verified(user: Any, email: str | None) -> bool:
    """allauth's ``has_verified_email(user, email)``, which every login asks, as one plain
    statement: the ORM spends more time building its query than the database answering it.
    Whatever this cannot answer (a user whose addresses allauth holds in memory) is left to
    allauth's stage, and so is every unverified case: it asks again and acts."""
    if came_through_verified_address(user, email):
        return True  # the password's lookup found the user through it (accounts.auth_backends)
    if getattr(user, "_emailaddress_cache", None) is not None or not user.pk:
        return False
    table = connection.ops.quote_name(EmailAddress._meta.db_table)
    with connection.cursor() as cursor:
        if email:
            cursor.execute(
                f"SELECT verified FROM {table} WHERE user_id = %s AND email = %s",  # noqa: S608
                [user.pk, email.lower()],
            )
        else:
            cursor.execute(
                f"SELECT true FROM {table} WHERE user_id = %s AND verified LIMIT 1",  # noqa: S608
                [user.pk],
            )
        row = cursor.fetchone()
    return bool(row and row[0])


# --- Lookups by address -------------------------------------------------------------------------


def users_by_email(email: str, *, is_active: bool | None = None) -> list[User]:
    """The accounts ``email`` names, as allauth finds them for a password reset or a login code:
    the owners of a verified matching address if there are any, else the owners of any matching
    address and the users whose own email field matches. Always two queries, so a free address
    costs what a taken one does."""
    email = email.lower()
    addresses = [
        address
        for address in EmailAddress.objects.filter(email=email).select_related("user")
        if address.email.lower() == email
    ]
    by_field = [user for user in User.objects.filter(email=email) if user.email.lower() == email]
    verified = [address.user for address in addresses if address.verified]
    found = verified or [address.user for address in addresses] + by_field
    users = list({user.pk: user for user in found}.values())
    if is_active is not None:
        users = [user for user in users if user.is_active == is_active]
    return users


def record_code_rejected_without_account() -> None:
    """A wrong login code for an address with no account: audited as one for an account is
    (accounts.receivers.audit_login_code_rejected), after the same read (allauth fetches the
    account to name it; here there is none to fetch), so both answers cost the same."""
    User.objects.filter(pk__isnull=True).first()
    record(
        Action.LOGIN_CODE_REJECTED,
        actor=None,
        actor_text="anonymous",
        outcome=Outcome.FAILURE,
        data={"account": False},
    )


# --- Password reset -----------------------------------------------------------------------------


def spend_like_a_reset_token(email: str) -> None:
    """A reset for an address without an account computes a token, for nobody, and forgets it:
    a known address's reset computes one for its email."""
    allauth_settings.PASSWORD_RESET_TOKEN_GENERATOR().make_token(User(email=email))
