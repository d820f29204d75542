"""The write path for SSO connections, by concept: ``connections`` (create, accounts and roles,
test, turn on and off, delete), ``saml`` (IdP settings, metadata, certificates), ``sp_keys``
(Gatehouse's own SAML key), ``oidc`` (discovery and client), ``expiry`` (certificate notices)
and ``logins`` (the writes of a sign-in).

Same shape as organizations' services: the acting membership and the organization are
explicit, permission is checked first, each call is one transaction with its audit event, and
refusals raise ``Refusal`` (audited when they are access refusals). The names other apps and
the portal call are importable from here.
"""

from sso.services.connections import (
    activate,
    create_connection,
    delete_connection,
    disable,
    missing_settings,
    start_test,
    testable,
    update_accounts,
)
from sso.services.expiry import WARN_DAYS, certificates_to_warn, warn_of_expiry
from sso.services.oidc import issuer_of, read_discovery, update_oidc
from sso.services.saml import (
    add_certificate,
    import_metadata,
    parse_idp_metadata,
    refresh_metadata,
    remove_certificate,
    stop_metadata_refresh,
    update_saml,
)
from sso.services.sp_keys import (
    cancel_sp_key_rotation,
    finish_sp_key_rotation,
    start_sp_key_rotation,
)

__all__ = [
    "WARN_DAYS",
    "activate",
    "add_certificate",
    "cancel_sp_key_rotation",
    "certificates_to_warn",
    "create_connection",
    "delete_connection",
    "disable",
    "finish_sp_key_rotation",
    "import_metadata",
    "issuer_of",
    "missing_settings",
    "parse_idp_metadata",
    "read_discovery",
    "refresh_metadata",
    "remove_certificate",
    "start_sp_key_rotation",
    "start_test",
    "stop_metadata_refresh",
    "testable",
    "update_accounts",
    "update_oidc",
    "update_saml",
    "warn_of_expiry",
]
