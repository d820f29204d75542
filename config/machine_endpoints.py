"""A short middleware path for the OAuth endpoints that only machines call.

The token, introspection, revocation and device-authorization endpoints are called by
backends, resource servers and devices, authenticated by client credentials in the request
itself. They use no session, no signed-in person, no CSRF token (each view is csrf_exempt),
no messages, and none of the gates that send a signed-in person to a page first (MFA
enrolment, new policy versions, an organization's session lifetime, allauth's login stages).
Running those middlewares anyway cost about 0.1-0.16 ms of CPU per request in process, a
tenth of an introspection (docs/performance.md).

Placed right after ``SecurityMiddleware``, this middleware answers those paths itself, with
what still applies to them, and passes every other request down the full stack:

- kept because they sit before it: the request id, the audit context (request id, address,
  user agent), and ``SecurityMiddleware`` (the HTTPS redirect and its response headers);
- kept by calling them here: ``CommonMiddleware`` (refused user agents, Content-Length) and
  ``XFrameOptionsMiddleware``;
- a ``Refusal`` the view raises becomes its JSON problem, as under /api/: these callers are
  programs, not people reading a page;
- ``request.user`` is the anonymous user, so nothing on these paths can act as a person whose
  browser happened to send a session cookie.

Only the exact paths of the named routes take this path, and only while the route's view is
csrf_exempt: a view that starts to want a CSRF check goes back through the full stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.urls import (
    NoReverseMatch,
    Resolver404,
    ResolverMatch,
    get_resolver,
    get_script_prefix,
    get_urlconf,
    reverse,
)

from config.api_framework import problem_response
from config.refusals import Refusal

# provider/urls.py's names for the endpoints machines call.
MACHINE_ROUTES = (
    "oauth2_provider:token",
    "oauth2_provider:introspect",
    "oauth2_provider:revoke-token",
    "oauth2_provider:device-authorization",
)


class MachineEndpointMiddleware:
    """The machine-to-machine OAuth endpoints through a short path (see the module)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._short = CommonMiddleware(XFrameOptionsMiddleware(self._view))
        # URLconf -> {path: its route}, filled on first use (routes are static per URLconf).
        self._routes: dict[object, dict[str, ResolverMatch]] = {}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = self._machine_route(request.path_info)
        if match is None:
            return self.get_response(request)
        request.resolver_match = match
        request.user = AnonymousUser()
        # The chain is synchronous, as the stack around it is (MiddlewareMixin would hand an
        # awaitable only to an async one).
        return cast(HttpResponse, self._short(request))

    def _machine_route(self, path: str) -> ResolverMatch | None:
        urlconf = get_urlconf()
        resolver = get_resolver(urlconf)
        routes = self._routes.get(resolver)
        if routes is None:
            routes = self._routes[resolver] = machine_routes(urlconf)
        return routes.get(path)

    def _view(self, request: HttpRequest) -> HttpResponse:
        match = request.resolver_match
        assert match is not None
        try:
            response: HttpResponse = match.func(request, *match.args, **match.kwargs)
        except Refusal as refusal:
            refusal.record()
            response = problem_response(refusal.status, refusal.message)
            if refusal.retry_after is not None:
                response["Retry-After"] = str(refusal.retry_after)
        return response


def machine_routes(urlconf: str | None) -> dict[str, ResolverMatch]:
    """The path of each machine route in this URLconf, with its route if its view is
    csrf_exempt (the full stack's CSRF check would let it through anyway)."""
    routes: dict[str, ResolverMatch] = {}
    prefix = get_script_prefix()
    for name in MACHINE_ROUTES:
        try:
            # reverse() includes the deployment's script prefix; path_info does not.
            path = "/" + reverse(name, urlconf=urlconf).removeprefix(prefix)
            match = get_resolver(urlconf).resolve(path)
        except (NoReverseMatch, Resolver404):  # a URLconf without the provider
            continue
        if getattr(match.func, "csrf_exempt", False):
            routes[path] = match
    return routes
