from django.urls import path

from accounts.mfa import passkeys
from accounts.mfa.views import login_step, recovery, security, stepup

app_name = "mfa"

urlpatterns = [
    # The second step of a login.
    path("accounts/2fa/", login_step.authenticate, name="authenticate"),
    path("accounts/2fa/email/", login_step.authenticate_email, name="authenticate-email"),
    path(
        "accounts/2fa/passkey/begin/",
        passkeys.LoginStageBegin.as_view(),
        name="login-passkey-begin",
    ),
    path(
        "accounts/2fa/passkey/complete/",
        passkeys.LoginStageComplete.as_view(),
        name="login-passkey-complete",
    ),
    # Lost every factor: a reset that waits, and the emailed link that cancels it.
    path("accounts/2fa/lost/", recovery.lost_factors, name="lost-factors"),
    path("accounts/2fa/reset/cancel/<str:token>/", recovery.cancel_reset, name="reset-cancel"),
    path("account/security/reset/cancel/", recovery.cancel_own_reset, name="reset-cancel-own"),
    # Passwordless sign-in with a passkey (the login page's passkey button and autofill).
    path("accounts/passkey/begin/", passkeys.PasswordlessBegin.as_view(), name="passkey-begin"),
    path(
        "accounts/passkey/complete/",
        passkeys.PasswordlessComplete.as_view(),
        name="passkey-complete",
    ),
    # Managing factors.
    path("account/security/", security.security, name="security"),
    path("account/security/totp/", security.totp_add, name="totp-add"),
    path("account/security/email/", security.email_enable, name="email-enable"),
    path("account/security/backup-codes/", security.backup_codes, name="backup-codes"),
    path(
        "account/security/<str:kind>/<int:device_id>/remove/",
        security.device_remove,
        name="device-remove",
    ),
    path(
        "account/security/<str:kind>/<int:device_id>/rename/",
        security.device_rename,
        name="device-rename",
    ),
    # Step-up before sensitive actions.
    path("account/security/verify/", stepup.stepup_view, name="stepup"),
    path("account/security/verify/email/", stepup.stepup_email, name="stepup-email"),
    path(
        "account/security/verify/passkey/begin/",
        passkeys.StepUpBegin.as_view(),
        name="stepup-passkey-begin",
    ),
    path(
        "account/security/verify/passkey/complete/",
        passkeys.StepUpComplete.as_view(),
        name="stepup-passkey-complete",
    ),
]
