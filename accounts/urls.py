from allauth.socialaccount import views as socialaccount_views
from django.urls import path, re_path
from django.views.generic import RedirectView

from accounts import allauth_flows, signup_code_views, views
from accounts.mfa.stepup import stepup_required
from accounts.passwords.views import password_strength
from accounts.profiling import views as profiling_views

app_name = "selfservice"

urlpatterns = [
    path("", views.profile, name="profile"),
    path("sessions/", views.sessions, name="sessions"),
    path("profile/questions/", profiling_views.questions, name="profile-questions"),
]

# Changing the email address or the password needs a recent strong authentication (step-up,
# accounts/mfa/stepup.py); allauth's own re-authentication stays on behind it.
email = stepup_required(allauth_flows.email)
password_change = stepup_required(allauth_flows.password_change)
password_set = stepup_required(allauth_flows.password_set)

# allauth's own pages, mounted under /account/ with allauth's URL names (see config/urls.py).
allauth_pages = [
    path("account/email/", email, name="account_email"),
    path("account/password/", password_change, name="account_change_password"),
    path("account/password/set/", password_set, name="account_set_password"),
]

# Gatehouse's versions of allauth views at allauth's own addresses: listed before allauth's
# URLs so that they are the ones that answer.
allauth_overrides = [
    path("accounts/signup/", allauth_flows.signup, name="account_signup"),
    # The waiting page after sign-up: the emailed code, a new code, another address.
    path(
        "accounts/confirm-email/",
        signup_code_views.email_verification_sent,
        name="account_email_verification_sent",
    ),
    path(
        "accounts/confirm-email/<str:key>/",
        allauth_flows.confirm_email,
        name="account_confirm_email",
    ),
    re_path(
        r"^accounts/password/reset/key/(?P<uidb36>[0-9A-Za-z]+)-(?P<key>.+)/$",
        allauth_flows.password_reset_from_key,
        name="account_reset_password_from_key",
    ),
    # The password meter's estimate (accounts/passwords/views.py).
    path("accounts/password/strength/", password_strength, name="password_strength"),
    path("accounts/sessions/", RedirectView.as_view(pattern_name="selfservice:sessions")),
    # allauth's addresses for the same pages answer with the guarded views too.
    path("accounts/email/", email),
    path("accounts/password/change/", password_change),
    path("accounts/password/set/", password_set),
    # Linked social and enterprise logins: connecting and disconnecting need a step-up too.
    path(
        "accounts/3rdparty/",
        stepup_required(socialaccount_views.connections),
        name="socialaccount_connections",
    ),
    # Gatehouse's own second factor replaces allauth.mfa's (which is not installed).
    path(
        "accounts/reauthenticate/",
        RedirectView.as_view(pattern_name="mfa:stepup", query_string=True),
    ),
]
