"""Password authentication: allauth's backend, with its lookup by address as one plain statement.

allauth finds the accounts an address names through the ORM (the address rows, each with its
user), on the path every password login waits for; building that query costs more than the
database spends answering it. ``AuthenticationBackend`` asks the same question as one
statement written out, keeps allauth's rules (the owners of a verified matching address if
there are any; else the owners of any matching address and the users whose own email field
matches, in a second query as allauth makes it), and notes on the user it returns that it came
through a verified address and whether it has a second factor, so the email-verification and
second-factor stages need not ask again (``accounts.enumeration.EmailVerificationStage``,
``accounts.mfa.policy.has_mfa``). Everything else (the password check,
inactive accounts, the hash spent when no account matches) is allauth's.

It is listed first in ``AUTHENTICATION_BACKENDS``. allauth's own stays listed after it, so
that sessions it signed before this backend existed stay valid (Django finds a session's user
through the backend named in it); it never checks a password any more: a refused attempt
stops here (``PermissionDenied``), where Django would otherwise try the next backend and
spend a second hash.
"""

from __future__ import annotations

import functools
from typing import Any

from allauth.account import app_settings
from allauth.account.auth_backends import AuthenticationBackend as AllauthAuthenticationBackend
from allauth.account.models import EmailAddress
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest

from accounts.mfa import policy
from accounts.models import User

_VERIFIED_ADDRESS = "_gatehouse_verified_login_address"
_ADDRESS_VERIFIED_COLUMN = "address_verified"  # the lookup's columns beside the user's
_HAS_MFA_COLUMN = "has_mfa"


def came_through_verified_address(user: Any, email: str | None) -> bool:
    """Whether this login's authentication found ``user`` through ``email``, verified."""
    return bool(email) and getattr(user, _VERIFIED_ADDRESS, None) == str(email).lower()


class AuthenticationBackend(AllauthAuthenticationBackend):
    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, **credentials: Any
    ) -> AbstractBaseUser | None:
        user = super().authenticate(request, **credentials)
        if user is None and credentials.get("password"):
            # Not allauth's backend next: it is listed for old sessions only.
            raise PermissionDenied
        return user

    def _authenticate_by_email(self, email: str, password: str) -> AbstractBaseUser | None:
        if not email or app_settings.LoginMethod.EMAIL not in app_settings.LOGIN_METHODS:
            return None
        for user in users_for_login(email):
            if self._check_password(user, password):
                return user
        return None


def users_for_login(email: str) -> list[User]:
    """The accounts a login with ``email`` may be for, as allauth's ``filter_users_by_email``
    finds them (``prefer_verified``, ``for_login``): one statement when a verified address
    matches, two otherwise, as allauth's."""
    email = email.lower()
    by_address = list(User.objects.raw(_by_address_sql(), [email]))
    verified = [user for user in by_address if getattr(user, _ADDRESS_VERIFIED_COLUMN)]
    for user in verified:
        setattr(user, _VERIFIED_ADDRESS, email)
        policy.note_has_mfa(user, getattr(user, _HAS_MFA_COLUMN))
    if verified:
        return list({user.pk: user for user in verified}.values())
    by_field = [user for user in User.objects.filter(email=email) if user.email.lower() == email]
    return list({user.pk: user for user in [*by_address, *by_field]}.values())


@functools.cache
def _by_address_sql() -> str:
    # Only names from the models' own metadata go into the text; the address is a parameter.
    quote = connection.ops.quote_name
    users, addresses = quote(User._meta.db_table), quote(EmailAddress._meta.db_table)
    columns = ", ".join(f"{users}.{quote(str(f.column))}" for f in User._meta.concrete_fields)
    user_id = f"{users}.{quote(str(User._meta.pk.column))}"
    return (
        f"SELECT {columns}, {addresses}.verified AS {_ADDRESS_VERIFIED_COLUMN}, "  # noqa: S608
        f"{policy.has_mfa_expression(user_id)} AS {_HAS_MFA_COLUMN} "
        f"FROM {addresses} JOIN {users} ON {user_id} = {addresses}.user_id "
        f"WHERE {addresses}.email = %s"
    )
