"""OpenID Connect connections: allauth's OIDC provider with full ID-token checks."""
