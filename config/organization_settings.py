"""Organizations' settings (organizations/). Imported by name into config/settings.py."""

from __future__ import annotations

from config.env import env_int, env_list

GATEHOUSE_INVITATION_DAYS = env_int("INVITATION_DAYS", 7)
# Quotas against abuse, counted in the shared cache (uses, window in seconds): organizations one
# person creates, and invitations sent (or resent) by one person and into one organization.
# Bulk onboarding belongs to SSO and SCIM, not to hundreds of invitation emails.
GATEHOUSE_ORG_CREATION_LIMIT = (
    env_int("ORG_CREATIONS_PER_PERSON", 10),
    env_int("ORG_CREATIONS_WINDOW", 24 * 3600),
)
GATEHOUSE_INVITATION_LIMITS = {
    "person": (env_int("INVITATIONS_PER_PERSON", 50), env_int("INVITATIONS_WINDOW", 3600)),
    "organization": (
        env_int("INVITATIONS_PER_ORGANIZATION", 200),
        env_int("INVITATIONS_WINDOW", 3600),
    ),
}
# Domain ownership: a TXT record at <prefix>.<domain>. Nameservers to ask ("host" or
# "host:port"); empty means the system's resolver.
GATEHOUSE_DOMAIN_RECORD_PREFIX = "_gatehouse-challenge"
GATEHOUSE_DNS_NAMESERVERS = env_list("DNS_NAMESERVERS", [])
GATEHOUSE_DNS_TIMEOUT = float(env_int("DNS_TIMEOUT_SECONDS", 5))
