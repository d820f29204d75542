from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.impersonation import urls as impersonation_urls
from accounts.urls import allauth_overrides, allauth_pages
from audit.chain import views as chain_views
from audit.streams import portal as streams_portal
from config import health
from events import portal as webhooks_portal
from organizations import urls as organization_urls
from provider import portal as provider_portal
from provider.views import device as provider_device
from provider.views import oidc as provider_oidc
from sso import portal as sso_portal
from sso.scim import portal as scim_portal

# Staff sign in through the same login as everyone else (rate limits, lockout, blocked-user
# check, second factor), not through the admin's own unthrottled form. The admin site itself
# also requires an OTP-verified session (config/admin_site.py).
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="selfservice:profile"), name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Connected apps (provider/views/account_apps.py), before accounts' /account/ pages.
    path("account/apps/", include("provider.views.account_apps")),
    path("account/", include("accounts.urls")),
    path("", include("accounts.mfa.urls")),
    path("", include("accounts.takeover.urls")),
    path("webauthn/", include("accounts.mfa.webauthn_urls")),
    # The organization portal, with the SSO and SCIM tabs that sso adds to it (orgs:sso is its
    # list of connections, orgs:scim the directory's overview) and provider's Applications tab
    # (orgs:applications) and audit's Log streams tab (orgs:streams): composed here, so that
    # organizations imports none of them.
    path(
        "",
        include(
            (
                [
                    *organization_urls.urlpatterns,
                    path("orgs/<slug:slug>/sso/", include(sso_portal.urlpatterns)),
                    path("orgs/<slug:slug>/scim/", include(scim_portal.urlpatterns)),
                    path("orgs/<slug:slug>/streams/", include(streams_portal.urlpatterns)),
                    path(
                        "orgs/<slug:slug>/applications/",
                        include(provider_portal.urlpatterns),
                    ),
                    path("orgs/<slug:slug>/webhooks/", include(webhooks_portal.urlpatterns)),
                ],
                organization_urls.app_name,
            )
        ),
    ),
    path("", include("sso.urls")),
    path("", include("consent.urls")),
    path("audit/.well-known/jwks.json", chain_views.jwks, name="audit-jwks"),
    path("api/", include("config.api")),
    # Inbound SCIM 2.0: the organization is the bearer token's (sso/scim/).
    path("scim/v2/", include("sso.scim.urls")),
    # The OpenID provider (provider/urls.py keeps DOT's namespace, which its views reverse).
    path("o/", include("provider.urls")),
    path("device", provider_device.DevicePageView.as_view(), name="device"),
    path(".well-known/openid-configuration", provider_oidc.DiscoveryView.as_view()),
    path(
        ".well-known/oauth-authorization-server",
        provider_oidc.AuthorizationServerMetadataView.as_view(),
    ),
    *allauth_overrides,
    path("accounts/social/", include("social.urls")),
    path("accounts/", include("allauth.urls")),
    # Self-service lives at /account/. Its email and password pages are allauth's own views,
    # mounted again here under allauth's URL names. When two patterns share a name, reverse()
    # picks the one listed last, so these are the addresses every allauth template links to.
    *allauth_pages,
    # Support staff signing in as a person (accounts/impersonation/): the staff pages sit
    # under the admin and behind its second factor; approval links and "End" are the
    # approver's and the impersonated session's.
    path("admin/impersonate/", include(impersonation_urls.admin_urlpatterns)),
    path("", include(impersonation_urls.urlpatterns)),
    path("admin/", admin.site.urls),
]

# Under /api/ an unmatched path is a JSON problem, like every other API error.
handler404 = "config.api_framework.page_not_found"
