"""The SCIM tab's tokens: every token the directory was given (prefix and dates, never the
token), a new one with an overlap for the ones in use, and revocation."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import Refusal
from organizations.models import Membership, Organization
from organizations.pages import org_page
from organizations.permissions import Perm
from sso.scim import directories
from sso.scim.models import DirectoryToken
from sso.scim.portal.common import scim_context, show_refusal, to_overview, token_page
from sso.scim.portal.forms import RotateTokenForm


@org_page(Perm.MANAGE_SCIM)
@require_http_methods(["GET"])
def token_list(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    directory = directories.directory_of(org)
    if directory is None:
        return to_overview(request, org)
    now = timezone.now()
    rows = [
        {"token": t, "usable": t.usable(now)}
        for t in DirectoryToken.objects.filter(directory=directory).select_related("created_by")
    ]
    return render(
        request,
        "sso/scim/tokens.html",
        scim_context(org, membership, directory, rows=rows, form=RotateTokenForm()),
    )


@org_page(Perm.MANAGE_SCIM)
@require_POST
def token_new(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    directory = directories.directory_of(org)
    if directory is None:
        return to_overview(request, org)
    form = RotateTokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long the tokens in use keep working.")
        return redirect("orgs:scim-tokens", slug=org.slug)
    try:
        issued = directories.issue_token(
            actor=membership, org=org, overlap=form.cleaned_data["overlap"]
        )
    except Refusal as refusal:
        show_refusal(request, refusal)
        return redirect("orgs:scim-tokens", slug=org.slug)
    return token_page(request, org, membership, directory, issued, first=False)


@org_page(Perm.MANAGE_SCIM)
@require_POST
def token_revoke(
    request: HttpRequest, org: Organization, membership: Membership, token_id: int
) -> HttpResponse:
    row = directories.revoke_token(actor=membership, org=org, token_id=token_id)
    messages.success(request, f"The token {row.prefix}… no longer works.")
    return redirect("orgs:scim-tokens", slug=org.slug)
