from __future__ import annotations

from allauth.socialaccount.adapter import get_adapter
from django.http import HttpRequest, HttpResponse


def test_connection(request: HttpRequest, provider_id: str) -> HttpResponse:
    """LAB: the real one is an org-admin-only portal action (POST) on a draft/active connection."""
    provider = get_adapter(request).get_provider(request, provider_id)
    return provider.redirect(request, "login", data={"gatehouse_test": provider_id})
