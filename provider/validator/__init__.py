"""Gatehouse's rules on top of DOT's validator (docs/oauth-provider.md, sections 2-6).

- Clients authenticate with an HMAC of their secret, never the password hasher, and only the
  kinds that have a secret (web, M2M) may; a client presenting both Basic and body credentials
  is refused.
- Each grant is allowed by the application's kind, not by DOT's single grant column.
- A token is for at most one API: ``resource`` (RFC 8707) or ``audience`` names it, the
  application must have been given access to it, and the API's permissions are capped at
  what that access lists. ``request.api`` then sets the audience, format and lifetime.
- An authorization code is claimed (``used_at``) in one conditional UPDATE before any token is
  minted; presenting it again revokes every token issued from it.
- Refresh tokens rotate on every use, in one statement; a spent one presented again revokes
  its family; families have an absolute deadline on top of the idle limit
  (provider/validator/refresh.py).
- ``sub`` is the person's public id, never the database key.
"""

from oauth2_provider.oauth2_validators import OAuth2Validator

from provider.device import DeviceCodeValidation
from provider.validator.clients import ClientRules
from provider.validator.common import RefusedWhileSaving
from provider.validator.openid import (
    OpenIDRules,
    can_step_up_to_mfa,
    parse_max_age,
    wants_mfa,
)
from provider.validator.refresh import RefreshRules
from provider.validator.scopes import ScopeRules
from provider.validator.tokens import TokenRules


class GatehouseValidator(
    ClientRules,
    ScopeRules,
    RefreshRules,
    TokenRules,
    OpenIDRules,
    DeviceCodeValidation,
    OAuth2Validator,
):
    """DOT's validator with Gatehouse's rules, one part per concern (this package's modules)."""


__all__ = [
    "GatehouseValidator",
    "RefusedWhileSaving",
    "can_step_up_to_mfa",
    "parse_max_age",
    "wants_mfa",
]
