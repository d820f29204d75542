"""What Celery beat runs, and when (seconds between runs). Read by config/settings.py.

Each job is idempotent and batched, so a run that is late, doubled or skipped (beat down for a
while) does no harm: the next one picks up.
"""

CELERY_BEAT_SCHEDULE = {
    "prune-outbound-email": {
        "task": "accounts.tasks.prune_outbound_email",
        "schedule": 3600.0,
    },
    "purge-ended-user-sessions": {
        "task": "accounts.tasks.purge_ended_user_sessions",
        "schedule": 3600.0,
    },
    "prune-unconfirmed-totp": {
        "task": "accounts.tasks.prune_unconfirmed_totp",
        "schedule": 3600.0,
    },
    "apply-due-mfa-resets": {
        "task": "accounts.tasks.apply_due_mfa_resets",
        "schedule": 600.0,
    },
    "expire-impersonations": {
        "task": "accounts.tasks.expire_impersonations",
        "schedule": 60.0,
    },
    "sweep-removed-memberships": {
        "task": "organizations.tasks.sweep_removed_memberships",
        "schedule": 300.0,
    },
    "recheck-verified-domains": {
        "task": "organizations.tasks.recheck_verified_domains",
        "schedule": 6 * 3600.0,
    },
    "refresh-saml-metadata": {
        "task": "sso.tasks.refresh_saml_metadata",
        "schedule": 6 * 3600.0,
    },
    "warn-expiring-idp-certificates": {
        "task": "sso.tasks.warn_expiring_certificates",
        "schedule": 24 * 3600.0,
    },
    "requeue-stalled-email": {
        "task": "accounts.tasks.requeue_stalled_email",
        "schedule": 300.0,
    },
    "expire-exports": {
        "task": "consent.tasks.expire_exports",
        "schedule": 3600.0,
    },
    "run-due-erasures": {
        "task": "consent.tasks.run_due_erasures",
        "schedule": 600.0,
    },
    "purge-erased-consent-evidence": {
        "task": "consent.tasks.purge_erased_consent_evidence",
        "schedule": 24 * 3600.0,
    },
    "expire-audit-exports": {
        "task": "audit.tasks.expire_audit_exports",
        "schedule": 3600.0,
    },
    "purge-audit-events": {
        "task": "audit.tasks.purge_audit_events",
        "schedule": 24 * 3600.0,
    },
    "rotate-signing-keys": {
        "task": "provider.key_tasks.rotate_signing_keys",
        "schedule": 24 * 3600.0,
    },
    "purge-oauth-tokens": {
        "task": "provider.tasks.purge_tokens",
        "schedule": 600.0,
    },
    "prune-events": {
        "task": "events.tasks.prune_events",
        "schedule": 3600.0,
    },
    "events-pipeline": {
        "task": "events.tasks.run_pipeline",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "prune-webhook-attempts": {
        "task": "events.tasks.prune_delivery_attempts",
        "schedule": 3600.0,
    },
    # The events pipeline loop seals too (audit.chain.sealer.seal_batch); this keeps sealing
    # going without it, and is a no-op when the loop has sealed everything.
    "seal-audit": {
        "task": "audit.tasks.seal_audit",
        "schedule": 60.0,
    },
    "sign-audit-checkpoints": {
        "task": "audit.tasks.sign_checkpoints",
        "schedule": 600.0,
    },
    # Background checks of long chains whose message was lost or whose worker died.
    "requeue-audit-verifications": {
        "task": "audit.tasks.requeue_audit_verifications",
        "schedule": 300.0,
    },
    "rotate-audit-checkpoint-key": {
        "task": "audit.tasks.rotate_checkpoint_key",
        "schedule": 24 * 3600.0,
    },
    # Log streams: the pipeline loop queues due streams too (audit.streams.delivery).
    "queue-log-streams": {
        "task": "audit.streams.tasks.queue_streams",
        "schedule": 15.0,
    },
    "prune-scim-requests": {
        "task": "sso.scim.tasks.prune_scim_requests",
        "schedule": 600.0,
    },
}
# Task modules autodiscovery (tasks.py) does not find: it looks in installed apps only, and
# sso.scim and audit.streams are packages inside apps.
CELERY_IMPORTS = ("audit.streams.tasks", "provider.key_tasks", "sso.scim.tasks")
