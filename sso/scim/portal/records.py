"""What the directory wrote, as the SCIM tab shows it: its users (with the member each is
linked to), its groups (each with the role it gives), and its last requests.

Users and groups come a page at a time in id order (``?after=``), never counted; every query
starts from this organization's directory.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from scim2_models import SCIMException

from organizations.models import Membership, Organization
from organizations.pages import org_page
from organizations.permissions import Perm
from sso.scim import directories
from sso.scim.documents import user_name_key
from sso.scim.models import ScimGroup, ScimRequest, ScimUser
from sso.scim.portal.common import after_id, keyset_page, scim_context, to_overview
from sso.scim.portal.forms import GroupRoleForm

REQUEST_LOG_SIZE = 100
MAX_QUERY = 255


def _search_key(text: str) -> str | None:
    """What a search is compared with: the key userNames are stored under, or None for text
    that has none."""
    try:
        return user_name_key(text)
    except SCIMException:
        return None


@org_page(Perm.MANAGE_SCIM)
@require_http_methods(["GET"])
def user_list(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    directory = directories.directory_of(org)
    if directory is None:
        return to_overview(request, org)
    query = request.GET.get("q", "").strip()[:MAX_QUERY]
    users = ScimUser.objects.for_directory(directory).select_related("user")
    if query:
        users = users.filter(user_name_key__startswith=_search_key(query) or "\0")
    page = keyset_page(users, after_id(request))
    return render(
        request,
        "sso/scim/users.html",
        scim_context(org, membership, directory, page=page, query=query),
    )


@org_page(Perm.MANAGE_SCIM)
@require_http_methods(["GET"])
def group_list(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    directory = directories.directory_of(org)
    if directory is None:
        return to_overview(request, org)
    groups = ScimGroup.objects.for_directory(directory).annotate(member_count=Count("memberships"))
    page = keyset_page(groups, after_id(request))
    return render(
        request,
        "sso/scim/groups.html",
        scim_context(org, membership, directory, page=page, role_form=GroupRoleForm()),
    )


@org_page(Perm.MANAGE_SCIM)
@require_POST
def group_role(
    request: HttpRequest, org: Organization, membership: Membership, group_id: int
) -> HttpResponse:
    form = GroupRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose member, admin or no role.")
        return redirect("orgs:scim-groups", slug=org.slug)
    group = directories.set_group_role(
        actor=membership, org=org, group_id=group_id, role=form.cleaned_data["role"]
    )
    if group.role:
        said = f"Members of {group.display_name} are now {group.get_role_display().lower()}s."
    else:
        said = f"{group.display_name} gives no role now."
    messages.success(request, said)
    return redirect("orgs:scim-groups", slug=org.slug)


@org_page(Perm.MANAGE_SCIM)
@require_http_methods(["GET"])
def request_log(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    directory = directories.directory_of(org)
    if directory is None:
        return to_overview(request, org)
    rows = list(
        ScimRequest.objects.filter(directory=directory).order_by("-at", "-id")[:REQUEST_LOG_SIZE]
    )
    return render(
        request, "sso/scim/requests.html", scim_context(org, membership, directory, rows=rows)
    )
