"""Webhook secrets and signatures (Standard Webhooks, docs/events.md 1.1, T5, T6, T31).

A secret is ``whsec_`` and 32 random bytes in **standard**, padded base64: the URL-safe
alphabet decodes silently to other bytes in the Python library and is refused by the npm one
(T6). Secrets are kept encrypted (config/encryption.py) and shown once, at creation and at
rotation. Every attempt is signed afresh, with its own timestamp, by every live secret of
the endpoint, newest first; nothing signed is stored.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from config.encryption import decrypt, encrypt
from events.models import WebhookEndpoint, WebhookSecret

SECRET_PREFIX = "whsec_"  # noqa: S105  (the prefix, not a secret)
USER_AGENT = "Gatehouse-Webhooks/1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def store_secret(endpoint: WebhookEndpoint, secret: str) -> WebhookSecret:
    return WebhookSecret.objects.create(endpoint=endpoint, secret_encrypted=encrypt(secret))


def live_secrets(endpoint_id: int, now: datetime | None = None) -> list[str]:
    """The endpoint's secrets that still sign, newest first."""
    now = now or timezone.now()
    rows = (
        WebhookSecret.objects.filter(endpoint_id=endpoint_id)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-created_at", "-id")
    )
    return [decrypt(row.secret_encrypted) for row in rows]


def signed_headers(
    message_id: str, body: bytes, secrets_newest_first: list[str], at: datetime
) -> dict[str, str]:
    """The headers of one attempt: the message id (the same for every attempt), this attempt's
    time, and one ``v1,`` signature per live secret, space-separated."""
    signatures = " ".join(
        Webhook(secret).sign(message_id, at, body) for secret in secrets_newest_first
    )
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "User-Agent": USER_AGENT,  # the spelling config.outbound sets its default in
    }
