"""The members tab: the list, role changes, removal, leaving and ownership transfer."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from config.refusals import Refusal
from organizations.forms import RoleForm
from organizations.models import Membership, Organization
from organizations.pages import PAGE_SIZE, org_page, page_context
from organizations.permissions import Perm
from organizations.services import members as member_services
from organizations.services.active import forget_active_org


def _int(value: Any) -> int | None:
    value = str(value or "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


@org_page(Perm.VIEW)
@require_http_methods(["GET"])
def members(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:254]
    rows = Membership.objects.for_org(org).active().select_related("user").order_by("user__email")
    if query:
        rows = rows.filter(Q(user__email__icontains=query) | Q(user__display_name__icontains=query))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "organizations/members.html",
        page_context(org, membership, page=page, query=query, role_form=RoleForm()),
    )


@org_page(Perm.MANAGE_MEMBERS)
@require_POST
def member_role(
    request: HttpRequest, org: Organization, membership: Membership, member_id: int
) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        raise Refusal("Choose owner, admin or member.")
    target = member_services.change_role(
        actor=membership, org=org, member_id=member_id, role=form.cleaned_data["role"]
    )
    messages.success(request, f"{target.user.email} is now {target.get_role_display().lower()}.")
    return redirect("orgs:members", slug=org.slug)


@org_page(Perm.MANAGE_MEMBERS)
@require_POST
def member_remove(
    request: HttpRequest, org: Organization, membership: Membership, member_id: int
) -> HttpResponse:
    target = member_services.remove_member(actor=membership, org=org, member_id=member_id)
    messages.success(request, f"{target.user.email} was removed from {org.name}.")
    return redirect("orgs:members", slug=org.slug)


@org_page(Perm.VIEW)
@require_POST
def leave(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    member_services.leave(membership=membership)
    forget_active_org(request.session, org)
    messages.success(request, f"You left {org.name}.")
    return redirect("orgs:index")


@org_page(Perm.TRANSFER_OWNERSHIP)
@require_POST
def transfer(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    member_id = _int(request.POST.get("member"))
    if member_id is None:
        raise Refusal("Choose who becomes the owner.")
    target = member_services.transfer_ownership(actor=membership, org=org, member_id=member_id)
    messages.success(request, f"{target.user.email} now owns {org.name}; you are an admin.")
    return redirect("orgs:members", slug=org.slug)
