"""Discovery (OpenID and RFC 8414), userinfo and RP-initiated logout: DOT's views with
Gatehouse's issuer, keys and sign-out.

DOT's documents advertise HS256 only and omit ``jwks_uri`` when ``OIDC_RSA_PRIVATE_KEY`` is
empty (Gatehouse's keys are in the database), and its OpenID document omits introspection and
revocation. Both documents here name the same issuer, ``GATEHOUSE_PUBLIC_URL`` exactly, which
is also the ID tokens' ``iss`` and the RFC 9207 ``iss`` parameter.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from oauth2_provider import views as dot
from oauth2_provider.exceptions import ClientIdMissmatch, InvalidIDTokenError
from oauth2_provider.settings import oauth2_settings

from config.provider_settings import OIDC_SCOPES
from provider.claims import CLAIM_SCOPES, ID_TOKEN_ALGS, profile_claim_scopes, read_id_token
from provider.models import Application, IDToken
from provider.services.sessions import SESSION_KEY, end_provider_session

SIGNIN_GRANT_TYPES = [
    "authorization_code",
    "client_credentials",
    "refresh_token",
    "urn:ietf:params:oauth:grant-type:device_code",
]
PROMPT_VALUES = ["none", "login", "consent", "select_account"]


def _endpoint(name: str) -> str:
    from django.urls import reverse

    return str(settings.GATEHOUSE_PUBLIC_URL) + reverse(f"oauth2_provider:{name}")


def _common_metadata() -> dict[str, Any]:
    """What both discovery documents say, from one place."""
    auth_methods = list(oauth2_settings.OIDC_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED)
    return {
        "issuer": str(settings.GATEHOUSE_PUBLIC_URL),
        "authorization_endpoint": _endpoint("authorize"),
        "token_endpoint": _endpoint("token"),
        "userinfo_endpoint": _endpoint("user-info"),
        "jwks_uri": _endpoint("jwks-info"),
        "end_session_endpoint": _endpoint("rp-initiated-logout"),
        "revocation_endpoint": _endpoint("revoke-token"),
        "introspection_endpoint": _endpoint("introspect"),
        "device_authorization_endpoint": _endpoint("device-authorization"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": SIGNIN_GRANT_TYPES,
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(OIDC_SCOPES),
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
        ],
        "authorization_response_iss_parameter_supported": True,
        "resource_indicators_supported": True,
        # Self-registration by URL (provider/cimd.py), when the operator's policy allows it.
        "client_id_metadata_document_supported": bool(oauth2_settings.CIMD_ENABLED),
    }


def _document(data: dict[str, Any]) -> JsonResponse:
    response = JsonResponse(data)
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "public, max-age=300"
    return response


class DiscoveryView(dot.ConnectDiscoveryInfoView):
    """/.well-known/openid-configuration"""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _document(
            {
                **_common_metadata(),
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ID_TOKEN_ALGS,
                "claims_supported": [
                    *dict.fromkeys([*CLAIM_SCOPES, *profile_claim_scopes()]),
                    "iss",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "nonce",
                    "acr",
                    "amr",
                    "sid",
                ],
                "acr_values_supported": ["urn:gatehouse:pwd", "urn:gatehouse:mfa"],
                "prompt_values_supported": PROMPT_VALUES,
                "claims_parameter_supported": False,
                "request_parameter_supported": False,
                "request_uri_parameter_supported": False,
            }
        )


class AuthorizationServerMetadataView(dot.OAuthServerMetadataView):
    """/.well-known/oauth-authorization-server (RFC 8414)"""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return _document(
            {
                **_common_metadata(),
                "id_token_signing_alg_values_supported": ID_TOKEN_ALGS,
                "client_id_metadata_document_supported": False,
            }
        )


class UserInfoView(dot.UserInfoView):
    """/o/userinfo/: the claims the access token's scopes allow, for a live token only;
    anything else is 401 with a ``WWW-Authenticate`` challenge (RFC 6750 3)."""

    def _create_userinfo_response(self, request: HttpRequest) -> HttpResponse:
        response = super()._create_userinfo_response(request)
        if response.status_code == 401 and not response.has_header("WWW-Authenticate"):
            response["WWW-Authenticate"] = 'Bearer realm="gatehouse", error="invalid_token"'
        response["Cache-Control"] = "no-store"
        return response


class LogoutView(dot.RPInitiatedLogoutView):
    """/o/logout/ (OpenID RP-Initiated Logout 1.0).

    ``id_token_hint`` must be an ID token Gatehouse signed with a published key (expired is
    fine), whose ``IDToken`` row still exists; ``post_logout_redirect_uri`` must be one the
    app registered, exactly. The person is signed out through allauth's logout (so its
    signals and Gatehouse's session bookkeeping run), and the OIDC session ends."""

    template_name = "provider/logout.html"

    def validate_logout_request_user(self, id_token_hint: str, client_id: str) -> Any:
        if not id_token_hint:
            return None
        claims = read_id_token(id_token_hint, accept_expired=True)
        if claims is None:
            raise InvalidIDTokenError()
        id_token = (
            IDToken.objects.select_related("application", "user")
            .filter(jti=claims.get("jti"))
            .first()
        )
        if id_token is None or id_token.application.client_id != claims.get("aud"):
            raise InvalidIDTokenError()
        if client_id and id_token.application.client_id != client_id:
            raise ClientIdMissmatch()
        return id_token

    def get_request_application(self, id_token: Any, client_id: str) -> Any:
        if client_id:
            application = Application.objects.filter(client_id=client_id).first()
            if application is None:
                from oauth2_provider.exceptions import InvalidOIDCClientError

                raise InvalidOIDCClientError()
            return application
        return id_token.application if id_token else None

    def do_logout(
        self,
        application: Any = None,
        post_logout_redirect_uri: Any = None,
        state: Any = None,
        token_user: Any = None,
    ) -> HttpResponse:
        request = self.request
        user = request.user if request.user.is_authenticated else None
        if user is not None:
            # Only this browser's OIDC session: an ID token is no secret, so a hint alone
            # never ends someone else's.
            end_provider_session(
                sid=request.session.get(SESSION_KEY) or "",
                user=user,
                client_id=application.client_id if application else "",
            )
            get_adapter(request).logout(request)
        return super().do_logout(application, post_logout_redirect_uri, state, token_user)

    def error_response(self, error: Any) -> HttpResponse:
        return self.render_to_response(
            {"error": error, "description": getattr(error, "description", "")},
            status=error.status_code,
        )
