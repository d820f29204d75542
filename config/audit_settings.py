"""What Gatehouse keeps on record and for how long: consent evidence and privacy rights
(consent/), the audit log (audit/) and the events outbox (events/, docs/events.md). Imported by
name into config/settings.py."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int

# Days between a request to erase an account and the erasure (cancellable meanwhile). GDPR
# gives a month to act on a request, so more than 30 is refused.
GATEHOUSE_ERASURE_GRACE_DAYS = env_int("ERASURE_GRACE_DAYS", 14)
if not 0 <= GATEHOUSE_ERASURE_GRACE_DAYS <= 30:
    raise ImproperlyConfigured("ERASURE_GRACE_DAYS must be between 0 and 30.")
# How long an export's single-use download link works, and the largest archive built.
GATEHOUSE_EXPORT_LINK_HOURS = env_int("EXPORT_LINK_HOURS", 48)
GATEHOUSE_EXPORT_MAX_BYTES = env_int("EXPORT_MAX_BYTES", 50 * 1024 * 1024)
# How long an erased person's consent events (with no address or browser left) are kept as
# evidence that consent was given: the operator's legal call. Three years by default.
GATEHOUSE_CONSENT_EVIDENCE_DAYS = env_int("CONSENT_EVIDENCE_DAYS", 3 * 365)

# How long Gatehouse-wide audit events (no organization: B2C sign-ins, staff actions) are kept;
# 0 keeps them for ever. Each organization sets its own (OrganizationPolicy.audit_retention_days).
GATEHOUSE_AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 0)
if GATEHOUSE_AUDIT_RETENTION_DAYS and GATEHOUSE_AUDIT_RETENTION_DAYS < 30:
    raise ImproperlyConfigured("AUDIT_RETENTION_DAYS is 0 (keep) or at least 30.")
# Exports of the audit log: up to this many rows are streamed at once; more are built in the
# background (at most the second figure), kept encrypted, and downloadable for some hours.
GATEHOUSE_AUDIT_EXPORT_SYNC_ROWS = env_int("AUDIT_EXPORT_SYNC_ROWS", 10_000)
GATEHOUSE_AUDIT_EXPORT_MAX_ROWS = env_int("AUDIT_EXPORT_MAX_ROWS", 1_000_000)
GATEHOUSE_AUDIT_EXPORT_HOURS = env_int("AUDIT_EXPORT_HOURS", 24)
# Checking an organization's audit log against a checkpoint walks its whole chain, some 2,500
# events a second: up to this many events in the request (a few seconds), more in the
# background (a check to poll; 0: always there).
GATEHOUSE_AUDIT_VERIFY_SYNC_MAX = env_int("AUDIT_VERIFY_SYNC_MAX", 10_000)
if GATEHOUSE_AUDIT_VERIFY_SYNC_MAX < 0:
    raise ImproperlyConfigured("AUDIT_VERIFY_SYNC_MAX is 0 (always in the background) or more.")


# Whether successful changes write outbox rows (the events feed, webhooks). Off only to measure
# what the outbox costs (bench/events.py).
GATEHOUSE_EVENTS_ENABLED = env_bool("GATEHOUSE_EVENTS_ENABLED", True)
# How long outbox rows are kept (WorkOS keeps 30 days); a feed cursor older than that gets 410.
GATEHOUSE_EVENTS_RETENTION_DAYS = env_int("GATEHOUSE_EVENTS_RETENTION_DAYS", 30)

# Log streams to Datadog go to the intake of the site the org admin picked from a fixed list
# (audit/streams/transports/datadog.py). A site named here goes to this URL instead; empty in
# production (not read from the environment), set by the test suite to a loopback intake.
GATEHOUSE_DATADOG_INTAKE_URLS: dict[str, str] = {}
