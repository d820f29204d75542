"""The challenge on the login and login-code forms, while credential stuffing is suspected."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from django import forms

from accounts.takeover import challenge, stuffing
from audit.actions import Action, Outcome
from audit.services import record


class ChallengeMixin:
    """Adds the proof-of-work field when a stuffing signal is up for the client's network.
    The field is checked before the form's own ``clean`` (which checks the password), so an
    unsolved or replayed challenge costs the server no password hash."""

    fields: dict[str, forms.Field]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        request = getattr(self, "request", None) or allauth_context.request
        self._challenge_request = request
        ip = get_adapter().get_client_ip(request) if request is not None else None
        self.challenge_required = stuffing.challenge_in_force(ip)
        if self.challenge_required:
            self.fields[challenge.FIELD_NAME] = forms.CharField(
                label="Browser check",
                required=False,
                widget=challenge.ChallengeWidget(),
            )

    def clean_altcha(self) -> str:
        payload = str(self.cleaned_data.get(challenge.FIELD_NAME) or "")  # type: ignore[attr-defined]
        reason = challenge.check(payload)
        if reason:
            record(
                Action.LOGIN_CHALLENGE_FAILED,
                actor=None,
                actor_text="anonymous",
                outcome=Outcome.FAILURE,
                data={"reason": reason},
            )
            # A form-wide error (the field is hidden, so its own errors would not show); it
            # also stops the password check (allauth's clean() returns on any error).
            self.add_error(  # type: ignore[attr-defined]
                None, forms.ValidationError(challenge.MESSAGES[reason], code=f"challenge_{reason}")
            )
            return ""
        if self._challenge_request is not None:
            setattr(self._challenge_request, stuffing.REQUEST_CHALLENGED, True)
        return payload
