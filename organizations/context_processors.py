"""An organization's branding on the sign-in pages: ``/accounts/login/?org=<slug>``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from organizations.models import Organization

BRANDED_PATHS = ("/accounts/login/", "/accounts/signup/", "/accounts/login/code/")


def branding(request: HttpRequest) -> dict[str, Any]:
    slug = request.GET.get("org", "")
    if not slug or len(slug) > 50 or request.path not in BRANDED_PATHS:
        return {}
    # Name, logo and colour only: what the organization shows the world on its sign-in page.
    org = (
        Organization.objects.filter(slug=slug.lower())
        .only("name", "slug", "logo_url", "brand_colour")
        .first()
    )
    return {"brand_org": org} if org else {}
