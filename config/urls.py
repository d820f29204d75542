from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.urls import allauth_pages
from config import health

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="selfservice:profile"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Self-service lives at /account/. Its email and password pages are allauth's own views,
    # mounted here under allauth's URL names; being listed before allauth's URLs, these are the
    # addresses that reverse() and every allauth template link to.
    path("account/", include("accounts.urls")),
    *allauth_pages,
    path("accounts/sessions/", RedirectView.as_view(pattern_name="selfservice:sessions")),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
