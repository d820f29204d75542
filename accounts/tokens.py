"""Password-reset tokens (``ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR``)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.tokens import PasswordResetTokenGenerator as DjangoTokenGenerator


class PasswordResetTokenGenerator(DjangoTokenGenerator):
    """allauth's reset token: Django's, which lapses once the password changes or the person
    logs in, and which also lapses when the account's set of addresses changes.

    The value hashed is exactly allauth's, so links already sent keep working. What is left
    out is allauth's side step of first writing an address row for ``user.email`` when it has
    none: the token counts that address anyway. That leaves one read, and a token computed for
    an address without an account (accounts.enumeration.spend_like_a_reset_token) costs what a
    real one does.
    """

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        from allauth.account.models import EmailAddress

        addresses = set(
            EmailAddress.objects.filter(user_id=user.pk).values_list("email", flat=True)
        )
        if user.email:
            addresses.add(user.email)
        return super()._make_hash_value(user, timestamp) + "|".join(sorted(addresses))
