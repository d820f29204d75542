"""LAB PROTOTYPE: allauth's SocialApps are built from sso.Connection rows, never stored twice."""

from __future__ import annotations

from allauth.socialaccount.models import SocialApp

from accounts.mfa.social import SocialAccountAdapter
from sso.models import Connection

PROVIDER_ID_PREFIX = "saml-"  # SocialAccount.provider = "saml-<connection pk>"


def saml_app(conn: Connection) -> SocialApp:
    certs = conn.idp_certificates
    settings = {
        "idp": {
            "entity_id": conn.idp_entity_id,
            "sso_url": conn.idp_sso_url,
            "x509cert": certs[0],  # allauth passes ONE certificate (see trap: rotation)
            **({"slo_url": conn.idp_slo_url} if conn.idp_slo_url else {}),
        },
        "sp": {},  # entity id defaults to the metadata URL, unique per connection
        # No "email_verified" key: an IdP must not be able to vouch for any domain.
        "attribute_mapping": {
            "uid": ["urn:oasis:names:tc:SAML:attribute:subject-id"],
            "email": ["email", "urn:oid:0.9.2342.19200300.100.1.3"],
            "first_name": ["first_name", "urn:oid:2.5.4.42"],
            "last_name": ["last_name", "urn:oid:2.5.4.4"],
        },
        # allauth's own "trust this address" switch, limited to the org's verified domains.
        "verified_email": list(conn.verified_domains),
        "advanced": {
            "strict": True,
            "want_assertion_signed": True,
            "want_message_signed": False,
            "reject_deprecated_algorithm": True,
            "want_name_id": True,
            "want_attribute_statement": False,
            "authn_request_signed": True,
            "logout_request_signed": True,
            "logout_response_signed": True,
            "want_assertion_encrypted": False,
            "x509cert": conn.sp_certificate,
            "private_key": conn.sp_private_key,
            "reject_idp_initiated_sso": not conn.allow_idp_initiated,
        },
    }
    app = SocialApp(
        provider="saml",
        provider_id=f"{PROVIDER_ID_PREFIX}{conn.pk}",
        name=conn.name,
        client_id=conn.slug,
        settings=settings,
    )
    app.gatehouse_connection = conn  # type: ignore[attr-defined]
    return app


class SSOSocialAccountAdapter(SocialAccountAdapter):
    def list_apps(self, request, provider=None, client_id=None):
        apps = [
            a
            for a in super().list_apps(request, provider=provider, client_id=client_id)
            if a.provider != "saml"  # SAML apps come only from sso.Connection
        ]
        if provider not in (None, "saml") and not str(provider).startswith(PROVIDER_ID_PREFIX):
            return apps
        qs = Connection.objects.filter(status=Connection.Status.ACTIVE)
        if client_id:
            qs = qs.filter(slug=client_id)
        if provider and provider.startswith(PROVIDER_ID_PREFIX):
            pk = provider[len(PROVIDER_ID_PREFIX):]
            qs = qs.filter(pk=pk) if pk.isdigit() else qs.none()
        return apps + [saml_app(c) for c in qs.select_related("organization")]
