"""The provider's write path: applications and their secrets, APIs, signing keys. Each
service owns its durable transaction and audit event (config.refusals.service)."""
