"""The organization's audit log in the portal (``/orgs/<slug>/audit/``): filters, the actor
search, keyset pages ("Newer" / "Older", never a count), and exports.

Every query is scoped with ``for_org`` and answered by an index (audit/search.py). An export of
up to ``GATEHOUSE_AUDIT_EXPORT_SYNC_ROWS`` events streams at once; a larger one is built in the
background and listed on the page until it expires (audit/exports.py).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from audit import exports
from audit.chain import views as chain_views
from audit.models import AuditEvent, AuditExport
from audit.search import AuditFilterForm, Page, Position, filter_events, keyset_page
from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.pages import PAGE_SIZE, org_page, page_context, signed_in_user
from organizations.permissions import Perm

BAD_POSITION = "That page of the log does not exist. Start again from the newest events."


def _position(request: HttpRequest, name: str) -> Position | None:
    token = request.GET.get(name, "")
    return Position.parse(token) if token else None


@org_page(Perm.VIEW_AUDIT)
@require_http_methods(["GET"])
def audit_log(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    page: Page | None = None
    if form.is_valid():
        try:
            older, newer = _position(request, "older"), _position(request, "newer")
        except ValueError:
            form.add_error(None, BAD_POSITION)
        else:
            events = filter_events(AuditEvent.objects.for_org(org), form.cleaned_data)
            page = keyset_page(events, older_than=older, newer_than=newer, size=PAGE_SIZE)
    filters = exports.stored_filters(form.cleaned_data) if page is not None else {}
    recent_exports = AuditExport.objects.for_org(org).defer("data").order_by("-created_at")[:5]
    context = page_context(
        org,
        membership,
        form=form,
        page=page,
        filtered=bool(filters),
        query=urlencode(filters),
        exports=list(recent_exports),
        now=timezone.now(),
        chain=chain_views.status(org),
    )
    return render(request, "organizations/audit.html", context, status=200 if page else 400)


@org_page(Perm.VIEW_AUDIT)
@require_POST
def audit_export(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    """Export what the page's filters select: streamed at once, or queued when large. What is
    refused comes back to the audit page as a message (the portal's way with buttons)."""
    form = AuditFilterForm(request.POST)
    fmt = request.POST.get("format", "")
    if fmt not in AuditExport.Format.values or not form.is_valid():
        messages.error(request, "Choose CSV or JSON, and filters the audit page accepts.")
        return redirect("orgs:audit", slug=org.slug)
    user = signed_in_user(request)
    events = filter_events(AuditEvent.objects.for_org(org), form.cleaned_data)
    if exports.more_than(events, settings.GATEHOUSE_AUDIT_EXPORT_SYNC_ROWS):
        try:
            exports.request_export(org=org, actor=user, fmt=fmt, filters=form.cleaned_data)
        except Refusal as refusal:
            messages.error(request, refusal.message)
            return redirect("orgs:audit", slug=org.slug)
        messages.success(
            request,
            "That range is large: the export is being prepared and will be listed on this page.",
        )
        return redirect("orgs:audit", slug=org.slug)
    exports.export_now(org=org, actor=user, fmt=fmt, filters=form.cleaned_data)
    fmt = AuditExport.Format(fmt)
    response = StreamingHttpResponse(
        exports.WRITERS[fmt](exports.ordered(events)), content_type=exports.CONTENT_TYPES[fmt]
    )
    return _attachment(response, f"audit-{org.slug}-{timezone.localdate():%Y-%m-%d}.{fmt}")


@org_page(Perm.VIEW_AUDIT)
@require_http_methods(["GET"])
def audit_export_download(
    request: HttpRequest, org: Organization, membership: Membership, public_id: uuid.UUID
) -> HttpResponse:
    found = exports.download(org=org, actor=signed_in_user(request), public_id=public_id)
    if found is None:
        raise Refusal("No such export, or it has expired.", status=404)
    export, compressed = found
    response = HttpResponse(compressed, content_type="application/gzip")
    stamp = timezone.localtime(export.created_at)
    return _attachment(response, f"audit-{org.slug}-{stamp:%Y-%m-%d-%H%M}.{export.format}.gz")


def _attachment(response: HttpResponse | StreamingHttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response  # type: ignore[return-value]
