"""Inbound SCIM 2.0 (RFC 7643/7644): an organization's directory (Entra ID, Okta, ...) creates,
updates and removes its people and groups in Gatehouse through ``/scim/v2/``.

The organization is chosen by the bearer token, never by the URL or the body. The resources a
directory sends are kept as sent (``ScimUser.document``); whether they become accounts and
memberships is decided by ``sso.scim.accounts`` with the same rules as SSO's just-in-time
accounts. See docs/scim.md.
"""
