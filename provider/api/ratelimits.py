"""Per-client rate limits at the management API: each app's ``rate_limit_per_minute``,
counted in the shared cache (one Redis round trip per call, accounts/ratelimits.py), so every
web process enforces the same budget. Sessions are not limited here."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from accounts.ratelimits import Limit, spend
from provider.api.authentication import calling_client

WINDOW_SECONDS = 60


class ClientRateThrottle(BaseThrottle):
    """A token's app gets ``rate_limit_per_minute`` calls a minute; then 429 with
    Retry-After until its window ends."""

    def __init__(self) -> None:
        self.retry_after: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        client = calling_client(request)
        if client is None:
            return True
        spent = spend(
            f"api-client:{client.pk}", Limit(client.rate_limit_per_minute, WINDOW_SECONDS)
        )
        self.retry_after = None if spent.allowed else spent.retry_after
        return spent.allowed

    def wait(self) -> float | None:
        return self.retry_after
