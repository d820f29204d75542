from allauth.account import views as allauth_views
from django.urls import path
from django.views.generic import RedirectView

from accounts import views

app_name = "selfservice"

urlpatterns = [
    path("", views.profile, name="profile"),
    path("sessions/", views.sessions, name="sessions"),
]

# allauth's own pages, mounted under /account/ with allauth's URL names (see config/urls.py).
allauth_pages = [
    path("account/email/", allauth_views.email, name="account_email"),
    path("account/password/", allauth_views.password_change, name="account_change_password"),
    path("account/password/set/", allauth_views.password_set, name="account_set_password"),
]

# Gatehouse's versions of allauth views at allauth's own addresses: listed before allauth's
# URLs so that they are the ones that answer.
allauth_overrides = [
    path("accounts/confirm-email/<str:key>/", views.confirm_email, name="account_confirm_email"),
    path("accounts/sessions/", RedirectView.as_view(pattern_name="selfservice:sessions")),
]
