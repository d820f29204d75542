"""The invitations tab: sending, resending and withdrawing invitations."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from organizations.forms import InviteForm
from organizations.models import Invitation, Membership, Organization
from organizations.pages import PAGE_SIZE, org_page, page_context, submitted
from organizations.permissions import Perm
from organizations.services.invitations import invite, resend_invitation, revoke_invitation


@org_page(Perm.MANAGE_INVITATIONS)
@require_http_methods(["GET", "POST"])
def invitations(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        invitation = form.is_valid() and submitted(
            form,
            lambda: invite(
                actor=membership,
                org=org,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            ),
            "email",
        )
        if invitation:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            return redirect("orgs:invitations", slug=org.slug)
        status = getattr(form, "refusal_status", 400)
    rows = Invitation.objects.for_org(org).select_related("invited_by", "accepted_by")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "organizations/invitations.html",
        page_context(org, membership, form=form, page=page),
        status=status,
    )


@org_page(Perm.MANAGE_INVITATIONS)
@require_POST
def invitation_resend(
    request: HttpRequest, org: Organization, membership: Membership, invitation_id: int
) -> HttpResponse:
    invitation = resend_invitation(actor=membership, org=org, invitation_id=invitation_id)
    messages.success(request, f"Invitation sent again to {invitation.email}.")
    return redirect("orgs:invitations", slug=org.slug)


@org_page(Perm.MANAGE_INVITATIONS)
@require_POST
def invitation_revoke(
    request: HttpRequest, org: Organization, membership: Membership, invitation_id: int
) -> HttpResponse:
    invitation = revoke_invitation(actor=membership, org=org, invitation_id=invitation_id)
    messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("orgs:invitations", slug=org.slug)
