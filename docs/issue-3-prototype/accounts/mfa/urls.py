from django.urls import path
from accounts.mfa import views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration


def proto_login(request):
    cfg = get_configuration(request, {"autocompleteLoginFieldSelector": "#id_login",
        "completeAuthenticationUrl": reverse("passkey_login_complete"), "beginAuthenticationUrl": reverse("passkey_login_begin")})
    return render(request, "proto_login.html", {"config": cfg})


urlpatterns = [
    path("proto/register/", login_required(lambda r: render(r, "proto_register.html"))),
    path("proto/login/", proto_login),
    path("accounts/2fa/", views.authenticate, name="mfa_authenticate"),
    path("accounts/2fa/passkey/begin/", views.StagePasskeyBegin.as_view(), name="mfa_stage_passkey_begin"),
    path("accounts/2fa/passkey/complete/", views.StagePasskeyComplete.as_view(), name="mfa_stage_passkey_complete"),
    path("accounts/passkey/begin/", views.PasswordlessBegin.as_view(), name="passkey_login_begin"),
    path("accounts/passkey/complete/", views.PasswordlessComplete.as_view(), name="passkey_login_complete"),
]
