"""The provider's public endpoints, under /o/ and /.well-known/ (config/urls.py).

DOT's views reverse ``oauth2_provider:<name>``, so this module keeps that namespace. It does
not include ``oauth2_provider.urls``, which would also mount DOT's application-management
pages, dynamic client registration and unthrottled device pages.
"""

from django.urls import path

from provider.views import authorize, device, endpoints, oidc

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", authorize.AuthorizeView.as_view(), name="authorize"),
    path("token/", endpoints.TokenView.as_view(), name="token"),
    path("revoke_token/", endpoints.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", endpoints.IntrospectTokenView.as_view(), name="introspect"),
    path("userinfo/", oidc.UserInfoView.as_view(), name="user-info"),
    path("logout/", oidc.LogoutView.as_view(), name="rp-initiated-logout"),
    path(
        "device-authorization/",
        device.DeviceAuthorizationView.as_view(),
        name="device-authorization",
    ),
    path(".well-known/jwks.json", endpoints.JwksView.as_view(), name="jwks-info"),
]
