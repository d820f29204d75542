"""The domains tab: listing, adding, verifying and removing the organization's domains."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from organizations.forms import DomainForm
from organizations.models import Domain, Membership, Organization
from organizations.pages import org_page, page_context, submitted
from organizations.permissions import Perm
from organizations.services.domains import add_domain, remove_domain, verify_domain


@org_page(Perm.MANAGE_DOMAINS)
@require_http_methods(["GET", "POST"])
def domains(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = DomainForm(request.POST or None)
    status = 200
    if request.method == "POST":
        domain = form.is_valid() and submitted(
            form,
            lambda: add_domain(actor=membership, org=org, name=form.cleaned_data["name"]),
            "name",
        )
        if domain:
            messages.success(request, f"Add the TXT record below, then verify {domain.name}.")
            return redirect("orgs:domains", slug=org.slug)
        status = 400
    return render(
        request,
        "organizations/domains.html",
        page_context(org, membership, form=form, domains=Domain.objects.for_org(org)),
        status=status,
    )


@org_page(Perm.MANAGE_DOMAINS)
@require_POST
def domain_verify(
    request: HttpRequest, org: Organization, membership: Membership, domain_id: int
) -> HttpResponse:
    domain = verify_domain(actor=membership, org=org, domain_id=domain_id)
    if domain.is_verified:
        messages.success(request, f"{domain.name} is verified.")
    else:
        messages.error(request, f"{domain.name} is not verified yet: {domain.last_check_result}.")
    return redirect("orgs:domains", slug=org.slug)


@org_page(Perm.MANAGE_DOMAINS)
@require_POST
def domain_remove(
    request: HttpRequest, org: Organization, membership: Membership, domain_id: int
) -> HttpResponse:
    remove_domain(actor=membership, org=org, domain_id=domain_id)
    messages.success(request, "The domain was removed.")
    return redirect("orgs:domains", slug=org.slug)
