"""Generic HTTPS: a JSON array of records, signed with the Standard Webhooks headers.

The receiver verifies ``webhook-signature`` with the stream's signing secret (any Standard
Webhooks or Svix library does it). ``webhook-id`` names the batch by its first and last chain
positions, so a retry of the same batch carries the same id and a receiver can drop repeats.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from audit.streams.transports.common import Batch, Destination, Sent, judged, post


def body_of(batch: Batch) -> bytes:
    return json.dumps(batch.records, separators=(",", ":"), ensure_ascii=False).encode()


def send(destination: Destination, batch: Batch) -> Sent:
    body = body_of(batch)
    now = datetime.now(UTC)
    signature = Webhook(destination.credential).sign(batch.batch_id, now, body)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Gatehouse-LogStream/1",
        "webhook-id": batch.batch_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return judged(post(destination.url, body, headers), destination.credential)
