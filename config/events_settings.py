"""Settings of events out: the pipeline loop and webhook delivery (events/, docs/events.md).
Imported by name into config/settings.py. Values that cannot work refuse to start."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.core.validators import validate_email

from config.env import env_int, env_list

__all__ = [
    "GATEHOUSE_EVENTS_CLAIM_SECONDS",
    "GATEHOUSE_EVENTS_PIPELINE_SECONDS",
    "GATEHOUSE_OPS_EMAILS",
    "GATEHOUSE_WEBHOOK_ATTEMPT_RETENTION_DAYS",
    "GATEHOUSE_WEBHOOK_DISABLE_AFTER_HOURS",
    "GATEHOUSE_WEBHOOK_RETRY_AFTER_CAP",
    "GATEHOUSE_WEBHOOK_SCHEDULE",
    "GATEHOUSE_WEBHOOK_TIMEOUT",
]

# A claimed delivery whose worker has not settled it after this many seconds is taken back by
# the loop and sent again (a killed worker). Must outlast one send: twice the timeout at least.
GATEHOUSE_EVENTS_CLAIM_SECONDS = env_int("GATEHOUSE_EVENTS_CLAIM_SECONDS", 60)
# One webhook request's whole deadline (connect, send, read), in seconds. Standard Webhooks
# asks for 15 to 30.
GATEHOUSE_WEBHOOK_TIMEOUT = env_int("GATEHOUSE_WEBHOOK_TIMEOUT", 15)
if not 1 <= GATEHOUSE_WEBHOOK_TIMEOUT <= 60:
    raise ImproperlyConfigured("GATEHOUSE_WEBHOOK_TIMEOUT must be between 1 and 60 seconds.")
if GATEHOUSE_EVENTS_CLAIM_SECONDS < 2 * GATEHOUSE_WEBHOOK_TIMEOUT:
    raise ImproperlyConfigured(
        "GATEHOUSE_EVENTS_CLAIM_SECONDS must be at least twice GATEHOUSE_WEBHOOK_TIMEOUT, or a "
        "slow delivery would be taken back and sent twice while it is still running."
    )
# Seconds between a failed attempt and the next, before jitter (+-20 %): 5 s, 5 min, 30 min,
# 2 h, 5 h, 10 h, 18 h (about a day and a half in all). After the last, the delivery fails.
try:
    GATEHOUSE_WEBHOOK_SCHEDULE = [
        int(step)
        for step in env_list(
            "GATEHOUSE_WEBHOOK_SCHEDULE", ["5", "300", "1800", "7200", "18000", "36000", "64800"]
        )
    ]
except ValueError as exc:
    raise ImproperlyConfigured("GATEHOUSE_WEBHOOK_SCHEDULE lists whole seconds.") from exc
if not GATEHOUSE_WEBHOOK_SCHEDULE or any(step < 0 for step in GATEHOUSE_WEBHOOK_SCHEDULE):
    raise ImproperlyConfigured("GATEHOUSE_WEBHOOK_SCHEDULE needs at least one step, none negative.")
# An endpoint with no success for this many hours while failing is turned off.
GATEHOUSE_WEBHOOK_DISABLE_AFTER_HOURS = env_int("GATEHOUSE_WEBHOOK_DISABLE_AFTER_HOURS", 36)
# The longest Retry-After honoured, in seconds (6 hours).
GATEHOUSE_WEBHOOK_RETRY_AFTER_CAP = env_int("GATEHOUSE_WEBHOOK_RETRY_AFTER_CAP", 6 * 3600)
# Days each attempt's record (status, latency, response excerpt) is kept.
GATEHOUSE_WEBHOOK_ATTEMPT_RETENTION_DAYS = env_int("GATEHOUSE_WEBHOOK_ATTEMPT_RETENTION_DAYS", 30)
if GATEHOUSE_WEBHOOK_ATTEMPT_RETENTION_DAYS < 1:
    raise ImproperlyConfigured("GATEHOUSE_WEBHOOK_ATTEMPT_RETENTION_DAYS must be 1 or more.")
# How long one run of the pipeline loop lasts; beat starts one every 30 s and a second copy
# returns at once, so a little under a minute keeps one running all the time.
GATEHOUSE_EVENTS_PIPELINE_SECONDS = env_int("GATEHOUSE_EVENTS_PIPELINE_SECONDS", 50)
# Who hears about the operator's own endpoints (turned off after 410 or a day and a half of
# failures): staff addresses, comma-separated.
GATEHOUSE_OPS_EMAILS = env_list("GATEHOUSE_OPS_EMAILS", [])
for _address in GATEHOUSE_OPS_EMAILS:
    try:
        validate_email(_address)
    except Exception as exc:
        message = f"GATEHOUSE_OPS_EMAILS: {_address!r} is not an address."
        raise ImproperlyConfigured(message) from exc
