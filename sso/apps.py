"""Per-organization enterprise SSO (SAML, OIDC), home-realm discovery and SCIM."""

from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "sso"
    verbose_name = "Single sign-on"

    def ready(self) -> None:
        from accounts import extensions
        from sso import admission, enforcement, receivers  # noqa: F401  (connects the receivers)
        from sso.saml.logout import idp_logout_url
        from sso.scim import directory_links

        _accept_directory_addresses()

        # accounts and organizations ask; sso answers (neither imports sso).
        extensions.register(
            first_factor_mfa=admission.trusts_idp_mfa,
            idp_logout_url=idp_logout_url,
            login_refusal=enforcement.refuse_unless_allowed,
            address_change_refusal=enforcement.address_change_refusal,
            new_account_refusal=enforcement.new_account_refusal,
            member_removed=directory_links.detach,
            sso_connection_names=_connection_names,
        )


def _connection_names(slugs: list[str]) -> dict[str, tuple[str, str]]:
    """Each connection's name and its organization's, by slug (the admin's person page)."""
    from sso.models import Connection

    rows = Connection.objects.filter(slug__in=slugs).values_list(
        "slug", "name", "organization__name"
    )
    return {slug: (name, org) for slug, name, org in rows}


def _accept_directory_addresses() -> None:
    """SCIM's ``emails.value`` is validated by email-validator (through pydantic's
    ``EmailStr`` in scim2-models), which refuses special-use domains. Directories do send two
    of them: ``.local`` (Okta's own sample users, hybrid Active Directory UPNs such as
    ``corp.local``) and ``.test`` (every test fixture). Accept those two, once, at start-up;
    nothing else in Gatehouse validates addresses with email-validator."""
    import email_validator

    for name in ("local", "test"):
        if name in email_validator.SPECIAL_USE_DOMAIN_NAMES:
            email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(name)
