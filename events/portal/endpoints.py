"""The Webhooks tab's endpoints: the list, a new endpoint (its secret shown once), an
endpoint's page with its delivery log, editing, turning it off and on, a new secret with an
overlap, a test event, and deleting it. Every change goes through events/services.py, which
checks ``Perm.MANAGE_INTEGRATIONS`` again and writes the ``webhook.*`` audit event."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import Refusal
from events import services
from events.models import WebhookEndpoint
from events.portal.common import (
    before_id,
    endpoint_of,
    log_page,
    secret_page,
    show_refusal,
    webhooks_context,
)
from events.portal.forms import EndpointForm, RotateSecretForm
from events.registry import EVENT_TYPES
from organizations.models import Membership, Organization
from organizations.pages import org_page, submitted
from organizations.permissions import Perm


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET"])
def endpoint_list(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    endpoints = list(WebhookEndpoint.objects.for_org(org).order_by("-created_at", "-pk"))
    return render(
        request,
        "events/portal/list.html",
        webhooks_context(org, membership, endpoints=endpoints),
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET", "POST"])
def endpoint_new(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    status = 200
    if request.method == "POST":
        created = form.is_valid() and submitted(
            form,
            lambda: services.create_endpoint(
                actor=membership,
                organization=org,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
            ),
            "url",
        )
        if created:
            return secret_page(
                request, org, membership, created.endpoint, created.secret, created=True
            )
        status = getattr(form, "refusal_status", 400)
    return render(
        request,
        "events/portal/new.html",
        webhooks_context(org, membership, form=form),
        status=status,
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET"])
def endpoint_page(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    return render(
        request,
        "events/portal/endpoint.html",
        webhooks_context(
            org,
            membership,
            endpoint=endpoint,
            types=[EVENT_TYPES[name] for name in endpoint.event_types if name in EVENT_TYPES],
            page=log_page(endpoint, before_id(request)),
            paged=before_id(request) is not None,
            rotate_form=RotateSecretForm(),
        ),
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET", "POST"])
def endpoint_edit(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    form = EndpointForm.of(endpoint, request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and submitted(
            form,
            lambda: services.update_endpoint(
                actor=membership,
                endpoint=endpoint,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                event_types=form.cleaned_data["event_types"],
            ),
            "url",
        ):
            messages.success(request, "The endpoint was saved.")
            return redirect("orgs:webhook", slug=org.slug, endpoint_id=endpoint.public_id)
        status = getattr(form, "refusal_status", 400)
    return render(
        request,
        "events/portal/edit.html",
        webhooks_context(org, membership, endpoint=endpoint, form=form),
        status=status,
    )


def _switch(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str, *, on: bool
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    try:
        if on:
            services.enable(actor=membership, endpoint=endpoint)
        else:
            services.disable(actor=membership, endpoint=endpoint)
    except Refusal as refusal:
        show_refusal(request, refusal)
    else:
        messages.success(
            request,
            "The endpoint is on: deliveries that waited are sent now."
            if on
            else "The endpoint is off: nothing is sent to it until you turn it on again. "
            "Deliveries waiting for it are kept.",
        )
    return redirect("orgs:webhook", slug=org.slug, endpoint_id=endpoint.public_id)


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def endpoint_disable(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str
) -> HttpResponse:
    return _switch(request, org, membership, endpoint_id, on=False)


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def endpoint_enable(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str
) -> HttpResponse:
    return _switch(request, org, membership, endpoint_id, on=True)


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def endpoint_rotate(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    form = RotateSecretForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the current secret keeps signing.")
        return redirect("orgs:webhook", slug=org.slug, endpoint_id=endpoint.public_id)
    overlap = form.cleaned_data["overlap"]
    try:
        secret = services.rotate_secret(actor=membership, endpoint=endpoint, overlap_hours=overlap)
    except Refusal as refusal:
        show_refusal(request, refusal)
        return redirect("orgs:webhook", slug=org.slug, endpoint_id=endpoint.public_id)
    return secret_page(
        request, org, membership, endpoint, secret, created=False, overlap_hours=overlap
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_POST
def endpoint_test(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    try:
        delivery = services.send_test(actor=membership, endpoint=endpoint)
    except Refusal as refusal:
        show_refusal(request, refusal)
        return redirect("orgs:webhook", slug=org.slug, endpoint_id=endpoint.public_id)
    messages.success(request, "A test event is on its way. Its delivery is shown here.")
    return redirect(
        "orgs:webhook-delivery",
        slug=org.slug,
        endpoint_id=endpoint.public_id,
        delivery_id=delivery.public_id,
    )


@org_page(Perm.MANAGE_INTEGRATIONS)
@require_http_methods(["GET", "POST"])
def endpoint_delete(
    request: HttpRequest, org: Organization, membership: Membership, endpoint_id: str
) -> HttpResponse:
    endpoint = endpoint_of(org, endpoint_id)
    if request.method == "POST":
        services.delete(actor=membership, endpoint=endpoint)
        messages.success(
            request, f"The endpoint for {services.host_of(endpoint.url)} and its log are gone."
        )
        return redirect("orgs:webhooks", slug=org.slug)
    return render(
        request,
        "events/portal/delete.html",
        webhooks_context(org, membership, endpoint=endpoint),
    )
