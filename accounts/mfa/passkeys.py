"""Passkeys through django-otp-webauthn, fitted to Gatehouse's login.

django-otp-webauthn's own URLs are not mounted: its authentication view calls Django's
``login()`` directly, past the blocked-user check, email verification and the audit trail.
Gatehouse mounts the subclasses below instead, one pair of begin/complete endpoints per purpose:

* ``passwordless``: the first factor on the login page (discoverable credential, user
  verification required), which then runs allauth's login flow;
* ``login_mfa``: the second step of a login, limited to the pending user's credentials;
* ``stepup``: a signed-in user proving themselves again before a sensitive action;
* registration, which needs a fresh step-up.

Each ceremony's state is tagged with its purpose when it begins and checked when it completes,
so an assertion started for one purpose cannot finish another (without the tag, the second
step's ceremony, which does not require user verification, could be completed at the
passwordless endpoint with someone else's PIN-less security key).
"""

from __future__ import annotations

import json
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest, JsonResponse
from django_otp_webauthn import exceptions
from django_otp_webauthn import views as webauthn_views
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential

from accounts.mfa import stepup
from accounts.mfa.allauth_glue import enter_stage, login_with_passkey, record
from accounts.mfa.policy import Kind
from accounts.mfa.services import enrollment, verification
from accounts.mfa.session import mark_verified
from accounts.mfa.stages import STAGE_KEY

AUTH_STATE = "otp_webauthn_authentication_state"


class GatehouseWebAuthnHelper(WebAuthnHelper):
    def get_credential_display_name(self, user: Any) -> str:
        return user.get_full_name()

    def get_credential_name(self, user: Any) -> str:
        return user.email


class StepUpRequired(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "stepup_required"
    default_detail = "Confirm it is you before adding a passkey."


class LoginExpired(exceptions.OTPWebAuthnApiError):
    status_code = 400
    default_code = "login_expired"
    default_detail = "Your sign-in expired. Start again."


class AccountUnavailable(exceptions.OTPWebAuthnApiError):
    status_code = 403
    default_code = "account_unavailable"
    default_detail = "This account cannot sign in."


class _Audited:
    """Failed ceremonies are audited with the API error's code; the JSON answer stays as is."""

    purpose = ""
    request: HttpRequest

    def audit_user(self) -> Any:
        return None

    def _parse_request_data(self, request: HttpRequest) -> Any:
        # The library catches JSON syntax errors only: bytes that are not UTF-8 or JSON nested
        # thousands deep must be a clear 400 too, not a 500.
        try:
            return super()._parse_request_data(request)  # type: ignore[misc]
        except (UnicodeDecodeError, RecursionError, ValueError) as exc:
            raise exceptions.MalformedRequest() from exc

    def handle_exception(self, exc: Exception) -> Any:
        if isinstance(exc, exceptions.OTPWebAuthnApiError):
            user = None
            # Naming the user is best effort: whatever goes wrong here, the audit row is still
            # written and the original error's answer still goes out.
            try:
                user = self.audit_user()
            except Exception:  # noqa: BLE001
                user = None
            verification.passkey_failed(
                user=user,
                purpose=self.purpose,
                error=exc.code,
                signed_in=user is not None and getattr(self.request, "user", None) == user,
            )
        return super().handle_exception(exc)  # type: ignore[misc]


class _Begin(_Audited):
    def post(self, *args: Any, **kwargs: Any) -> Any:
        response = super().post(*args, **kwargs)  # type: ignore[misc]
        session = self.request.session
        session[AUTH_STATE] = {**session[AUTH_STATE], "purpose": self.purpose}
        return response


class _Complete(_Audited):
    def get_state(self) -> dict[str, Any]:
        state = super().get_state()  # type: ignore[misc]
        if state.get("purpose") != self.purpose:
            raise exceptions.InvalidState()
        return state


class _InLoginStage:
    request: HttpRequest

    def initial(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.stage = enter_stage(request, STAGE_KEY)
        if self.stage is None or request.user.is_authenticated:
            raise LoginExpired()
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def get_user(self) -> Any:
        return self.stage.login.user

    def audit_user(self) -> Any:
        stage = getattr(self, "stage", None)
        return stage.login.user if stage else None


class _SignedIn:
    request: HttpRequest

    def initial(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        if not request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        super().initial(request, *args, **kwargs)  # type: ignore[misc]

    def get_user(self) -> Any:
        return self.request.user

    def audit_user(self) -> Any:
        return self.request.user if self.request.user.is_authenticated else None


# --- Passwordless login ---------------------------------------------------------------------


class PasswordlessBegin(_Begin, webauthn_views.BeginCredentialAuthenticationView):
    purpose = "passwordless"

    def get_user(self) -> Any:
        return None  # any discoverable credential; user verification required


class PasswordlessComplete(_Complete, webauthn_views.CompleteCredentialAuthenticationView):
    purpose = "passwordless"

    def get_user(self) -> Any:
        return None

    def audit_user(self) -> Any:
        return None

    def check_device_usable(self, device: Any) -> None:
        super().check_device_usable(device)
        if getattr(device.user, "is_blocked", False):
            # allauth's pre_login refuses it too; answering here keeps the JSON contract.
            raise AccountUnavailable()

    def complete_auth(self, device: Any) -> None:
        user = device.user
        record(self.request, user, "passkey", id=device.pk, passwordless=True, reauthenticated=True)
        mark_verified(session=self.request.session, user=self.request.user, device=device)
        # The passkey's event and the login's writes: one transaction.
        with transaction.atomic(durable=True):
            verification.passkey_verified(
                user=user, device=device, purpose=self.purpose, signed_in=False
            )
            self._response = login_with_passkey(self.request, user, self.get_redirect_url())

    def get_success_data(self, device: Any) -> dict[str, Any]:
        response = self._response
        location = response.get("Location", "") if response.status_code in (301, 302) else ""
        return {"id": device.pk, "redirect_url": location}

    def post(self, *args: Any, **kwargs: Any) -> Any:
        response = super().post(*args, **kwargs)
        if self._response.status_code not in (301, 302):
            return JsonResponse(
                {"detail": "This account cannot sign in.", "code": "account_unavailable"},
                status=403,
            )
        return response


# --- Second step of a login -----------------------------------------------------------------


class LoginStageBegin(_InLoginStage, _Begin, webauthn_views.BeginCredentialAuthenticationView):
    purpose = "login_mfa"


class LoginStageComplete(
    _InLoginStage, _Complete, webauthn_views.CompleteCredentialAuthenticationView
):
    purpose = "login_mfa"

    def complete_auth(self, device: Any) -> None:
        from accounts.mfa.views.login_step import finish_second_step

        # The passkey's event and the login's writes: one transaction.
        with transaction.atomic(durable=True):
            verification.passkey_verified(
                user=device.user, device=device, purpose="login", signed_in=False
            )
            self._response = finish_second_step(self.request, self.stage, device, Kind.PASSKEY)

    def get_success_data(self, device: Any) -> dict[str, Any]:
        return {"id": device.pk, "redirect_url": self._response.get("Location", "")}


# --- Step-up --------------------------------------------------------------------------------


class StepUpBegin(_SignedIn, _Begin, webauthn_views.BeginCredentialAuthenticationView):
    purpose = "stepup"


class StepUpComplete(_SignedIn, _Complete, webauthn_views.CompleteCredentialAuthenticationView):
    purpose = "stepup"

    def complete_auth(self, device: Any) -> None:
        user = device.user  # the signed-in user: the ceremony only allowed their credentials
        record(self.request, user, "passkey", id=device.pk, reauthenticated=True)
        mark_verified(session=self.request.session, user=self.request.user, device=device)
        verification.passkey_verified(
            user=user, device=device, purpose=self.purpose, signed_in=True
        )

    def get_success_data(self, device: Any) -> dict[str, Any]:
        return {"id": device.pk, "redirect_url": self.get_redirect_url() or "/account/security/"}


# --- Registration ---------------------------------------------------------------------------


class _RegistrationChecks:
    request: HttpRequest

    def check_can_register(self) -> None:
        if not stepup.is_satisfied(self.request):
            raise StepUpRequired()

    def audit_user(self) -> Any:
        return self.request.user if self.request.user.is_authenticated else None


class RegistrationBegin(
    _RegistrationChecks, _Audited, webauthn_views.BeginCredentialRegistrationView
):
    purpose = "register"


class CredentialExists(exceptions.OTPWebAuthnApiError):
    status_code = 409
    default_code = "credential_exists"
    default_detail = "This passkey is already registered."


class RegistrationComplete(
    _RegistrationChecks, _Audited, webauthn_views.CompleteCredentialRegistrationView
):
    purpose = "register"

    def post(self, *args: Any, **kwargs: Any) -> Any:
        try:
            # One transaction for the credential and its record. A credential id that is
            # already registered (to anyone) fails the insert, and is answered as such.
            with transaction.atomic(durable=True):
                response = super().post(*args, **kwargs)
                device = None
                if response.status_code == 200:
                    device_id = json.loads(response.content)["id"]
                    device = WebAuthnCredential.objects.get(pk=device_id, user=self.request.user)
                    enrollment.passkey_added(
                        device=device, user_agent=self.request.META.get("HTTP_USER_AGENT", "")
                    )
        except IntegrityError:
            raise CredentialExists() from None
        if device is not None:
            # Registering proved possession of the passkey: a fresh authentication with it.
            record(
                self.request,
                device.user,
                "mfa",
                type=Kind.PASSKEY.value,
                id=device.persistent_id,
                reauthenticated=True,
            )
        return response
