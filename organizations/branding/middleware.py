"""Keeps an organization's sign-in branded across its steps, and keeps outside images off the
signed-out pages."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from organizations.branding.brand import SIGN_IN_PREFIXES, remember_sign_in_org

# Logos on the sign-in pages come from Gatehouse's own logo route; an outside image host would
# learn who opens them (and could swap the picture). Only images are restricted here.
SIGN_IN_CSP = "img-src 'self' data:"


class SignInBrandMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        remember_sign_in_org(request)
        response = self.get_response(request)
        if request.path.startswith(SIGN_IN_PREFIXES):
            response.headers.setdefault("Content-Security-Policy", SIGN_IN_CSP)
        return response
