"""Fixtures of the webhook tests (tests/events/webhook_world.py)."""

from tests.events.webhook_world import loopback, receiver  # noqa: F401  (fixtures)
