"""Per-organization enterprise SSO (SAML, OIDC), home-realm discovery and SCIM."""
