"""Password validators (AUTH_PASSWORD_VALIDATORS, config/password_settings.py): every form
that sets a password (sign-up, change, set, reset) and the admin run them. The server is the
authority; the meter only shows the same estimate early."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from accounts.passwords import breach, strength


def _user_inputs(user: Any) -> list[str]:
    if user is None:
        return []
    values = [getattr(user, "email", ""), getattr(user, "display_name", "")]
    email = values[0] or ""
    if "@" in email:
        values.append(email.split("@", 1)[0])
    return [str(v) for v in values if v]


class StrengthValidator:
    """Refuses a password zxcvbn scores under ``PASSWORD_MIN_SCORE``, with zxcvbn's warning
    and suggestions as the message; and a password over ``PASSWORD_MAX_LENGTH``."""

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > strength.max_length():
            raise ValidationError(
                f"Use at most {strength.max_length()} characters.", code="password_too_long"
            )
        result = strength.estimate(password, _user_inputs(user))
        if result.strong_enough:
            return
        parts = [result.warning] if result.warning else []
        parts += result.suggestions or ["Add another word or two: uncommon words are better."]
        raise ValidationError(
            "This password is too easy to guess. " + " ".join(parts), code="password_too_weak"
        )

    def get_help_text(self) -> str:
        return "Use a password that is hard to guess: a few uncommon words work well."


class BreachedPasswordValidator:
    """Refuses a password known from a breach: offline from zxcvbn's corpus, and through the
    Pwned Passwords range API when the operator turned it on (fail open)."""

    message = (
        "This password has appeared in a data breach, so attackers try it first. "
        "Choose a different one."
    )

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > strength.max_length():
            return  # refused for its length already; never sent anywhere
        if breach.in_offline_corpus(password) or (breach.pwned_count(password) or 0) > 0:
            raise ValidationError(self.message, code="password_breached")

    def get_help_text(self) -> str:
        return "It must not be a password known from a data breach."
