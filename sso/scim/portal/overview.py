"""The SCIM tab's overview (state, base URL, what to paste where), turning SCIM on, pausing,
resuming and turning it off, and its settings."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import Refusal
from organizations.models import Domain, Membership, Organization
from organizations.pages import org_page, submitted
from organizations.permissions import Perm
from sso.scim import directories
from sso.scim.models import Directory, ScimRequest
from sso.scim.portal.common import (
    base_url,
    scim_context,
    show_refusal,
    to_overview,
    token_page,
)
from sso.scim.portal.forms import SettingsForm

RECENT_REQUESTS = 5


@org_page(Perm.MANAGE_SCIM)
@require_http_methods(["GET"])
def overview(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    directory = directories.directory_of(org)
    context = scim_context(
        org,
        membership,
        directory,
        base_url=base_url(request),
        has_verified_domain=Domain.objects.for_org(org).filter(verified_at__isnull=False).exists(),
    )
    if directory is not None:
        context.update(
            working_tokens=directories.usable_tokens(directory).count(),
            domains=list(directory.domains.order_by("name")),
            recent=list(
                ScimRequest.objects.filter(directory=directory).order_by("-at", "-id")[
                    :RECENT_REQUESTS
                ]
            ),
        )
    return render(request, "sso/scim/overview.html", context)


@org_page(Perm.MANAGE_SCIM)
@require_POST
def turn_on(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    try:
        done = directories.turn_on(actor=membership, org=org)
    except Refusal as refusal:
        show_refusal(request, refusal)
        return redirect("orgs:scim", slug=org.slug)
    if done.issued is not None:
        return token_page(request, org, membership, done.directory, done.issued, first=True)
    if done.directory.status == Directory.Status.PAUSED:
        messages.info(request, "SCIM is paused: resume it to apply the directory's requests.")
    else:
        messages.success(request, "SCIM is on: the directory's working tokens are accepted.")
    return redirect("orgs:scim", slug=org.slug)


def _switch(
    request: HttpRequest, org: Organization, membership: Membership, what: str
) -> HttpResponse:
    call, said = {
        "pause": (
            directories.pause,
            "SCIM is paused: the directory is asked to try again later, and nothing changes "
            "here until you resume it.",
        ),
        "resume": (directories.resume, "SCIM is on again."),
        "off": (
            directories.turn_off,
            "SCIM is off: the directory's tokens are refused. People and groups stay as they are.",
        ),
    }[what]
    try:
        call(actor=membership, org=org)
    except Refusal as refusal:
        show_refusal(request, refusal)
    else:
        messages.success(request, said)
    return redirect("orgs:scim", slug=org.slug)


@org_page(Perm.MANAGE_SCIM)
@require_POST
def pause(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    return _switch(request, org, membership, "pause")


@org_page(Perm.MANAGE_SCIM)
@require_POST
def resume(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    return _switch(request, org, membership, "resume")


@org_page(Perm.MANAGE_SCIM)
@require_POST
def turn_off(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    return _switch(request, org, membership, "off")


@org_page(Perm.MANAGE_SCIM)
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    directory = directories.directory_of(org)
    if directory is None:
        return to_overview(request, org)
    initial = {
        "domain_ids": [str(pk) for pk in directory.domains.values_list("pk", flat=True)],
        "default_role": directory.default_role,
        "put_without_active_deactivates": directory.put_without_active_deactivates,
    }
    form = SettingsForm(request.POST or None, initial=initial, org=org)
    status = 200
    if request.method == "POST":
        if form.is_valid() and submitted(
            form,
            lambda: directories.update_settings(actor=membership, org=org, **form.cleaned_data),
        ):
            messages.success(request, "The directory's settings were saved.")
            return redirect("orgs:scim-settings", slug=org.slug)
        status = getattr(form, "refusal_status", 400)
    return render(
        request,
        "sso/scim/settings.html",
        scim_context(org, membership, directory, form=form),
        status=status,
    )
