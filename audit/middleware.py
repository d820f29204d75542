from __future__ import annotations

from collections.abc import Callable

from allauth.core.internal.httpkit import get_client_ip
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

from audit import context

USER_AGENT_MAX_LENGTH = 400


def _client_ip(request: HttpRequest) -> str | None:
    # allauth's helper honours ALLAUTH_TRUSTED_PROXY_COUNT, so the address recorded is the one
    # rate limits are keyed on. A malformed X-Forwarded-For must not turn into a 500 here.
    try:
        return get_client_ip(request) or None
    except (ImproperlyConfigured, ValueError):
        return None


class AuditContextMiddleware:
    """Makes the request's id, client IP and user agent available to ``audit.services.record``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = context.activate(
            context.RequestContext(
                request_id=getattr(request, "request_id", ""),
                ip=_client_ip(request),
                user_agent=request.headers.get("User-Agent", "")[:USER_AGENT_MAX_LENGTH],
            )
        )
        try:
            return self.get_response(request)
        finally:
            context.deactivate(token)
