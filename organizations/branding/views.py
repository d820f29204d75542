"""``/branding/logos/<sha256>.png``: a logo Gatehouse re-encoded, served from the database.

The URL names the image's hash, so a logo never changes under its URL: it is cached for a
year. Only logos in use (by an organization or the operator) are served. The answer is always
a PNG Gatehouse wrote, sent with ``nosniff`` and a sandboxing policy, so no browser reads it
as anything else.
"""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe

from organizations.models import BrandLogo, OperatorBranding, Organization

YEAR = 365 * 24 * 3600


@require_safe
def logo(request: HttpRequest, sha256: str) -> HttpResponse:
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise Http404
    in_use = (
        Organization.objects.filter(logo__sha256=sha256).exists()
        or OperatorBranding.objects.filter(Q(logo__sha256=sha256)).exists()
    )
    row = BrandLogo.objects.filter(sha256=sha256).first() if in_use else None
    if row is None:
        raise Http404
    etag = f'"{sha256}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(bytes(row.data), content_type="image/png")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={YEAR}, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Content-Disposition"] = 'inline; filename="logo.png"'
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
