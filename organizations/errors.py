"""How organization services refuse: one exception with a message fit to show the person who
asked, the HTTP status it maps to, and (for refusals that must be on record) the audit event to
write once the refused transaction has rolled back."""

from __future__ import annotations

from collections.abc import Callable


class OrgError(Exception):
    """A refused request, with a message fit to show the person who asked."""

    def __init__(self, message: str, *, status: int = 400, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        # Seconds to wait (a 429's Retry-After).
        self.retry_after = retry_after
        # Set for refusals that must be on record; run by @service after the rollback.
        self.audit: Callable[[], object] | None = None


class NotFound(OrgError):
    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message, status=404)
