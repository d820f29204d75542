"""The provider's public endpoints, under /o/ and /.well-known/ (config/urls.py).

DOT's views reverse ``oauth2_provider:<name>``, so this module keeps that namespace. It does
not include ``oauth2_provider.urls``, which would also mount DOT's application-management
pages, dynamic client registration and unthrottled device pages.
"""

from django.urls import path

from provider.views import authorize, device, endpoints, oidc
from provider.views.guards import well_formed

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", well_formed(authorize.AuthorizeView.as_view()), name="authorize"),
    path("token/", well_formed(endpoints.TokenView.as_view()), name="token"),
    path("revoke_token/", well_formed(endpoints.RevokeTokenView.as_view()), name="revoke-token"),
    path("introspect/", well_formed(endpoints.IntrospectTokenView.as_view()), name="introspect"),
    path("userinfo/", well_formed(oidc.UserInfoView.as_view()), name="user-info"),
    path("logout/", well_formed(oidc.LogoutView.as_view()), name="rp-initiated-logout"),
    path(
        "device-authorization/",
        well_formed(device.DeviceAuthorizationView.as_view()),
        name="device-authorization",
    ),
    path(".well-known/jwks.json", endpoints.JwksView.as_view(), name="jwks-info"),
]
