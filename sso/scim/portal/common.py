"""What every page of the SCIM tab shares: the page context, the organization's directory, the
base URL a directory is given, and keyset pages.

Organization, membership and refusals come from ``organizations.pages.org_page``; everything
is read through the organization's own directory (``Directory.objects.for_org``), so another
organization's ids find nothing. Nothing secret is rendered: a token appears only on the page
of the request that made it (``token_page``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.pages import page_context
from sso.scim.directories import IssuedToken
from sso.scim.models import Directory

TAB = "scim"
# The public contract (DESIGN.md): SCIM is served here, the organization chosen by the token.
BASE_PATH = "/scim/v2/"
PAGE_SIZE = 50


def scim_context(
    org: Organization, membership: Membership, directory: Directory | None, **extra: Any
) -> dict[str, Any]:
    """The organization portal's page context, on its SCIM tab."""
    return page_context(org, membership, tab=TAB, directory=directory, **extra)


def base_url(request: HttpRequest) -> str:
    """The absolute SCIM base URL an admin pastes into Entra ID (Tenant URL) or Okta."""
    return request.build_absolute_uri(BASE_PATH)


def to_overview(request: HttpRequest, org: Organization) -> HttpResponse:
    """Where a page that needs the directory sends an admin whose organization has none."""
    messages.info(request, "Turn SCIM on first.")
    return redirect("orgs:scim", slug=org.slug)


def show_refusal(request: HttpRequest, refusal: Refusal) -> None:
    """An access refusal or an unknown object goes up to ``org_page`` (403 page, 404); any
    other refusal is the admin's to fix and is shown as a message."""
    if refusal.status in (403, 404):
        raise refusal
    messages.error(request, refusal.message)


def token_page(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    directory: Directory,
    issued: IssuedToken,
    *,
    first: bool,
) -> HttpResponse:
    """The one page that shows a token: the answer to the request that made it. Not cached,
    never put in a message or the session."""
    response = render(
        request,
        "sso/scim/token.html",
        scim_context(
            org,
            membership,
            directory,
            issued=issued,
            first=first,
            base_url=base_url(request),
        ),
        status=201,
    )
    response["Cache-Control"] = "no-store"
    return response


@dataclass(frozen=True)
class KeysetPage:
    """One page of rows in id order, after the id in ``?after=``: no OFFSET and no COUNT, so
    a page costs the same on the first and the last page of a large directory."""

    rows: list[Any]
    next_after: int | None


def after_id(request: HttpRequest) -> int:
    try:
        return max(0, int(request.GET.get("after", "0")))
    except ValueError:
        return 0


def keyset_page(queryset: QuerySet[Any], after: int) -> KeysetPage:
    rows = list(queryset.filter(pk__gt=after).order_by("pk")[: PAGE_SIZE + 1])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return KeysetPage(rows=rows, next_after=rows[-1].pk if more else None)
