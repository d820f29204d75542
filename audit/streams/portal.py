"""The Log streams tab of the organization portal, at /orgs/<slug>/streams/.

An owner or admin (``Perm.MANAGE_INTEGRATIONS``) sends the organization's audit log to a SIEM:
creates a stream, sees its status, place and last error, sends a test message, pauses,
resumes, changes or deletes it. Streams are always read through ``LogStream.objects.for_org``
(audit.streams.services.stream_of), so another organization's stream ids find nothing (404).
The HTTPS kind's signing secret appears once, on the page answering its creation (or the
change of its URL, which makes a new one).

``urlpatterns`` is mounted by config/urls.py under /orgs/<slug>/streams/, in the "orgs"
namespace.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_http_methods, require_POST

from audit.streams import services
from audit.streams.forms import StreamForm
from audit.streams.models import LogStream
from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.pages import org_page, page_context
from organizations.permissions import Perm

TAB = "streams"


def _context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    return page_context(org, membership, tab=TAB, **extra)


def _saved(form: StreamForm, call: Any) -> Any:
    """Run a service with the form's settings; a refusal goes on the field it names (an
    access refusal or an unknown stream goes up to ``org_page``)."""
    try:
        return call(form.settings())
    except Refusal as refusal:
        if refusal.status in (403, 404):
            raise
        refusal.record()
        field = services.refused_field(refusal)
        form.add_error(field if field in form.fields else None, refusal.message)
        return None


def _secret_page(
    request: HttpRequest,
    org: Organization,
    membership: Membership,
    stream: LogStream,
    secret: str,
    *,
    status: int = 200,
) -> HttpResponse:
    """The one page that shows an HTTPS stream's signing secret, never cached."""
    response = render(
        request,
        "audit/streams/created.html",
        _context(org, membership, stream=stream, secret=secret, created=status == 201),
        status=status,
    )
    response["Cache-Control"] = "no-store"
    return response


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET"])
def stream_list(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    streams = LogStream.objects.for_org(org).order_by("created_at")
    return render(request, "audit/streams/list.html", _context(org, membership, streams=streams))


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET", "POST"])
def stream_new(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = StreamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        created = _saved(
            form,
            lambda chosen: services.create_stream(actor=membership, org=org, chosen=chosen),
        )
        if created is not None:
            if not created.signing_secret:
                messages.success(request, f"The stream {created.stream.name} is on.")
                return redirect("orgs:stream", slug=org.slug, stream_id=created.stream.public_id)
            return _secret_page(
                request, org, membership, created.stream, created.signing_secret, status=201
            )
    status = 400 if request.method == "POST" else 200
    return render(
        request, "audit/streams/new.html", _context(org, membership, form=form), status=status
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET", "POST"])
def stream_detail(
    request: HttpRequest, org: Organization, membership: Membership, stream_id: Any
) -> HttpResponse:
    stream = services.stream_of(org, stream_id)
    form = StreamForm(request.POST or None, stream=stream)
    if request.method == "POST" and form.is_valid():
        updated = _saved(
            form,
            lambda chosen: services.update_stream(
                actor=membership, org=org, stream_id=stream.public_id, chosen=chosen
            ),
        )
        if updated is not None and updated.signing_secret:
            return _secret_page(request, org, membership, updated.stream, updated.signing_secret)
        if updated is not None:
            messages.success(request, "Saved.")
            return redirect("orgs:stream", slug=org.slug, stream_id=stream.public_id)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "audit/streams/detail.html",
        _context(org, membership, stream=stream, form=form),
        status=status,
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def stream_test(
    request: HttpRequest, org: Organization, membership: Membership, stream_id: Any
) -> HttpResponse:
    sent = services.send_test(actor=membership, org=org, stream_id=stream_id)
    if sent.delivered:
        messages.success(request, f"Test message sent. {sent.summary()}")
    else:
        messages.error(request, f"The test message was not delivered. {sent.summary()}")
    return redirect("orgs:stream", slug=org.slug, stream_id=stream_id)


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def stream_pause(
    request: HttpRequest, org: Organization, membership: Membership, stream_id: Any
) -> HttpResponse:
    services.pause_stream(actor=membership, org=org, stream_id=stream_id)
    messages.success(request, "Paused. The stream keeps its place.")
    return redirect("orgs:stream", slug=org.slug, stream_id=stream_id)


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def stream_resume(
    request: HttpRequest, org: Organization, membership: Membership, stream_id: Any
) -> HttpResponse:
    services.resume_stream(actor=membership, org=org, stream_id=stream_id)
    messages.success(request, "Resumed from where the stream stopped.")
    return redirect("orgs:stream", slug=org.slug, stream_id=stream_id)


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def stream_delete(
    request: HttpRequest, org: Organization, membership: Membership, stream_id: Any
) -> HttpResponse:
    services.delete_stream(actor=membership, org=org, stream_id=stream_id)
    messages.success(request, "The stream is deleted.")
    return redirect("orgs:streams", slug=org.slug)


urlpatterns = [
    path("", stream_list, name="streams"),
    path("new/", stream_new, name="stream-new"),
    path("<uuid:stream_id>/", stream_detail, name="stream"),
    path("<uuid:stream_id>/test/", stream_test, name="stream-test"),
    path("<uuid:stream_id>/pause/", stream_pause, name="stream-pause"),
    path("<uuid:stream_id>/resume/", stream_resume, name="stream-resume"),
    path("<uuid:stream_id>/delete/", stream_delete, name="stream-delete"),
]
