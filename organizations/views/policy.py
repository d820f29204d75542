"""The policy tab: second factors, sign-in methods, session lifetime and auto-join."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from organizations.forms import PolicyForm
from organizations.models import Membership, Organization, OrganizationPolicy
from organizations.pages import org_page, page_context, submitted
from organizations.permissions import Perm
from organizations.services.policy import POLICY_FIELDS, update_policy


@org_page(Perm.MANAGE_POLICY)
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    current = OrganizationPolicy.objects.get(organization=org)
    form = PolicyForm(
        request.POST or None, initial={name: getattr(current, name) for name in POLICY_FIELDS}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid() and submitted(
            form, lambda: update_policy(actor=membership, org=org, **form.cleaned_data)
        ):
            messages.success(request, "The policy was saved.")
            return redirect("orgs:policy", slug=org.slug)
        status = 400
    return render(
        request,
        "organizations/policy.html",
        page_context(org, membership, form=form),
        status=status,
    )
