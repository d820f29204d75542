"""The list of one's organizations (and creating one), switching the active organization, and
an organization's overview and settings (its audit log is audit/portal.py)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from organizations.access import SessionTooOld, resolve_membership, signed_in_at
from organizations.branding.brand import operator_brand, org_brand
from organizations.forms import CreateOrganizationForm, SettingsForm
from organizations.models import Domain, Invitation, Membership, Organization, OrganizationPolicy
from organizations.pages import org_page, page_context, signed_in_user, submitted
from organizations.permissions import Perm
from organizations.services.active import ACTIVE_ORG_SESSION_KEY, switch_active_org
from organizations.services.organizations import create_organization, update_organization


def _switch(request: HttpRequest, org: Organization | None) -> None:
    user = signed_in_user(request)
    switch_active_org(
        session=request.session, user=user, org=org, signed_in_at=signed_in_at(request, user)
    )


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    form = CreateOrganizationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        org = form.is_valid() and submitted(
            form,
            lambda: create_organization(
                actor=user, name=form.cleaned_data["name"], slug=form.cleaned_data["slug"]
            ),
            "slug",
        )
        if org:
            _switch(request, org)
            messages.success(request, f"{org.name} is ready. Invite your team.")
            return redirect("orgs:overview", slug=org.slug)
        status = getattr(form, "refusal_status", 400)
    memberships = (
        Membership.objects.active().filter(user=user).select_related("organization")
    ).order_by("organization__name")
    return render(
        request,
        "organizations/index.html",
        {
            "form": form,
            "memberships": memberships,
            "active_org_id": request.session.get(ACTIVE_ORG_SESSION_KEY),
        },
        status=status,
    )


@login_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("slug", "")
    if not slug:
        _switch(request, None)
        return redirect("orgs:index")
    try:
        org, _ = resolve_membership(request, slug)
    except SessionTooOld:
        logout(request)
        return redirect("account_login")
    _switch(request, org)
    messages.success(request, f"You are now working in {org.name}.")
    return redirect("orgs:overview", slug=org.slug)


@org_page(Perm.VIEW)
@require_http_methods(["GET"])
def overview(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    members = Membership.objects.for_org(org).active()
    context = page_context(
        org,
        membership,
        member_count=members.count(),
        admin_count=members.exclude(role="member").count(),
        open_invitations=Invitation.objects.for_org(org)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True)
        .count(),
        domains=Domain.objects.for_org(org),
        policy=OrganizationPolicy.objects.get(organization=org),
    )
    return render(request, "organizations/overview.html", context)


@org_page(Perm.MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = SettingsForm(
        request.POST or None,
        request.FILES or None,
        initial={
            "name": org.name,
            "display_name": org.display_name,
            "brand_colour": org.brand_colour,
            "brand_background": org.brand_background,
            "brand_text": org.brand_text,
        },
    )
    status = 200
    if request.method == "POST":
        if form.is_valid() and submitted(
            form,
            lambda: update_organization(
                actor=membership,
                org=org,
                name=form.cleaned_data["name"],
                logo_url=org.logo_url,
                brand_colour=form.cleaned_data["brand_colour"],
                display_name=form.cleaned_data["display_name"],
                brand_background=form.cleaned_data["brand_background"],
                brand_text=form.cleaned_data["brand_text"],
                logo=form.logo_bytes(),
                remove_logo=form.cleaned_data["remove_logo"],
            ),
        ):
            messages.success(request, "Saved.")
            return redirect("orgs:settings", slug=org.slug)
        status = getattr(form, "refusal_status", 400)
        org.refresh_from_db()
    preview = org_brand(org, operator_brand())
    return render(
        request,
        "organizations/settings.html",
        page_context(org, membership, form=form, preview=preview),
        status=status,
    )
