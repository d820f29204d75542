"""What allauth and python3-saml are told about a SAML connection.

Every setting is written out here, from the connection's own fields, so no library default
decides anything about security (see docs/sso.md for each one and why).
"""

from __future__ import annotations

from typing import Any

from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.saml import utils as allauth_saml
from django.http import HttpRequest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants

from sso.models import Connection
from sso.saml.response import GatehouseResponse

EMAIL_NAMEID = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"


def social_app(connection: Connection) -> SocialApp:
    """An unsaved SocialApp for allauth, built fresh from the connection."""
    certificates = connection.signing_certificates()
    attribute_mapping: dict[str, list[str]] = {}
    # No "uid" (the subject is the NameID) and, on purpose, no "email_verified": an IdP must
    # not vouch for addresses. Only the org's verified domains make an address trusted.
    if connection.email_attribute:
        attribute_mapping["email"] = [connection.email_attribute]
    if connection.first_name_attribute:
        attribute_mapping["first_name"] = [connection.first_name_attribute]
    if connection.last_name_attribute:
        attribute_mapping["last_name"] = [connection.last_name_attribute]
    idp: dict[str, Any] = {
        "entity_id": connection.idp_entity_id,
        "sso_url": connection.idp_sso_url,
        # python3-saml wants one certificate here; all of them are passed in build_auth.
        "x509cert": certificates[0] if certificates else "",
    }
    if connection.idp_slo_url:
        idp["slo_url"] = connection.idp_slo_url
    app = SocialApp(
        provider="saml",
        provider_id=connection.slug,
        name=connection.name,
        client_id=connection.slug,
        settings={
            "idp": idp,
            "sp": {"entity_id": connection.sp_entity_id},
            "attribute_mapping": attribute_mapping,
            "use_nameid_for_email": not connection.email_attribute,
            "advanced": {
                "strict": True,
                "want_assertion_signed": True,
                # Many IdPs sign only the assertion; the logout endpoint demands signed messages.
                "want_message_signed": False,
                "reject_deprecated_algorithm": True,
                "digest_algorithm": OneLogin_Saml2_Constants.SHA256,
                "signature_algorithm": OneLogin_Saml2_Constants.RSA_SHA256,
                "want_name_id": True,
                "want_attribute_statement": False,
                # python3-saml would refuse any attribute sent in two <Attribute> elements,
                # groups included (some IdPs split long lists). Gatehouse refuses repetition
                # only where it is ambiguous: the attributes that identify the person
                # (identity_attributes, checked by sso.saml.views).
                "allow_repeat_attribute_name": True,
                "authn_request_signed": True,
                "logout_request_signed": True,
                "logout_response_signed": True,
                # Accepted when the IdP encrypts; required would break IdPs that cannot.
                "want_assertion_encrypted": False,
                "x509cert": connection.sp_certificate,
                # During a rotation of Gatehouse's key, the metadata offers the next one too.
                "x509cert_new": connection.sp_next_certificate or None,
                "private_key": connection.sp_private_key,
                "reject_idp_initiated_sso": not connection.allow_idp_initiated,
                "metadata_signed": False,
                "allow_single_label_domains": False,
            },
        },
    )
    app.gatehouse_connection = connection  # type: ignore[attr-defined]
    return app


def identity_attributes(app: SocialApp) -> set[str]:
    """The attributes allauth takes a single value from (it keeps the first and drops the
    rest): the email, the names and, were one mapped, the subject. Each must come once, with
    one value; the groups attribute is read as a list and is not among them."""
    names: set[str] = set()
    for keys in (app.settings.get("attribute_mapping") or {}).values():
        names.update([keys] if isinstance(keys, str) else keys)
    return names


class GatehouseAuth(OneLogin_Saml2_Auth):
    last_response: GatehouseResponse | None = None

    def response_class(self, settings: Any, response: str) -> GatehouseResponse:  # type: ignore[override]
        # Kept, so the processor can read what python3-saml found (sso.saml.processor).
        self.last_response = GatehouseResponse(settings, response)
        return self.last_response


def saml_settings(request: HttpRequest, app: SocialApp, *, for_logout: bool = False) -> dict:
    connection: Connection = app.gatehouse_connection  # type: ignore[attr-defined]
    config = allauth_saml.build_saml_config(request, app.settings, app.client_id)
    certificates = connection.signing_certificates()
    if certificates:
        # Rotation: a signature by any of the IdP's current certificates is accepted.
        config["idp"]["x509certMulti"] = {"signing": certificates}
    if for_logout:
        # An unsigned LogoutRequest would let any web page log people out.
        config["security"]["wantMessagesSigned"] = True
    return config


def build_auth(request: HttpRequest, app: SocialApp, *, for_logout: bool = False) -> GatehouseAuth:
    return GatehouseAuth(
        allauth_saml.prepare_django_request(request),
        saml_settings(request, app, for_logout=for_logout),
    )
