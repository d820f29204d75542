from __future__ import annotations

from functools import wraps

from allauth.account.internal.flows.login import record_authentication
from allauth.account.stages import LoginStageController
from django import forms
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import verify_token as otp_verify_token
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn import views as wa_views

from accounts.mfa.stages import SecondFactorStage


def stage_required(view):
    @never_cache
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return HttpResponseRedirect("/account/")
        stage = LoginStageController.enter(request, SecondFactorStage.key)
        if stage is None:
            return HttpResponseRedirect(reverse("account_login"))
        request._mfa_stage = stage
        return view(request, *args, **kwargs)
    return wrapper


class CodeForm(forms.Form):
    code = forms.CharField(max_length=16)


def _finish(request, stage, device, kind):
    record_authentication(request, stage.login.user, method="mfa", type=kind,
                          id=device.persistent_id, reauthenticated=True)
    request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    return stage.exit()


@stage_required
def authenticate(request):
    stage = request._mfa_stage
    user = stage.login.user
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        ok = device and otp_verify_token(user, device.persistent_id, form.cleaned_data["code"])
        if ok:
            return _finish(request, stage, ok, "totp")
        form.add_error("code", "Wrong code")
    return render(request, "mfa_proto.html", {"form": form}, status=400 if form.errors else 200)


STATE = "otp_webauthn_authentication_state"


class PurposeBeginMixin:
    purpose = ""

    def post(self, *a, **kw):
        response = super().post(*a, **kw)
        self.request.session[STATE] = {**self.request.session[STATE], "purpose": self.purpose}
        return response


class PurposeCompleteMixin:
    purpose = ""

    def get_state(self):
        from django_otp_webauthn.exceptions import InvalidState
        state = super().get_state()
        if state.get("purpose") != self.purpose:
            raise InvalidState()
        return state


class PasswordlessBegin(PurposeBeginMixin, wa_views.BeginCredentialAuthenticationView):
    purpose = "passwordless"

    def get_user(self):
        return None


class StagePasskeyBegin(PurposeBeginMixin, wa_views.BeginCredentialAuthenticationView):
    purpose = "login_mfa"
    def initial(self, request, *a, **kw):
        self.stage = LoginStageController.enter(request, SecondFactorStage.key)
        if self.stage is None:
            from django_otp_webauthn.exceptions import NotAuthenticated
            raise NotAuthenticated()
        super().initial(request, *a, **kw)

    def get_user(self):
        return self.stage.login.user


class StagePasskeyComplete(PurposeCompleteMixin, wa_views.CompleteCredentialAuthenticationView):
    purpose = "login_mfa"
    def initial(self, request, *a, **kw):
        self.stage = LoginStageController.enter(request, SecondFactorStage.key)
        if self.stage is None:
            from django_otp_webauthn.exceptions import NotAuthenticated
            raise NotAuthenticated()
        super().initial(request, *a, **kw)

    def get_user(self):
        return self.stage.login.user

    def complete_auth(self, device):
        self._response = _finish(self.request, self.stage, device, "passkey")

    def get_success_data(self, device):
        return {"id": device.pk, "redirect_url": self._response["Location"]}


class PasswordlessComplete(PurposeCompleteMixin, wa_views.CompleteCredentialAuthenticationView):
    purpose = "passwordless"
    def get_user(self):
        return None  # always the first-factor ceremony

    def complete_auth(self, device):
        from allauth.account.internal.flows.login import perform_login
        from allauth.account.models import Login
        user = device.user
        record_authentication(self.request, user, method="passkey", id=device.persistent_id,
                              passwordless=True, reauthenticated=True)
        self.request.session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        self._response = perform_login(self.request, Login(user=user, redirect_url=self.get_redirect_url() or None))

    def get_success_data(self, device):
        r = self._response
        if r.status_code in (301, 302):
            return {"id": device.pk, "redirect_url": r["Location"]}
        return {"id": device.pk, "redirect_url": "", "status": r.status_code}
