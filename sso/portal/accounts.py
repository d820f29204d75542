"""Step 3 of the wizard: who the connection lets in, and with which role."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_http_methods

from organizations.models import Membership, Organization
from organizations.permissions import Perm
from sso import services
from sso.forms import AccountsForm, format_role_mapping
from sso.portal.pages import connection_for_page, next_url, org_page, submit, wizard_page


@org_page(Perm.MANAGE_SSO)
@require_http_methods(["GET", "POST"])
def accounts_step(
    request: HttpRequest, org: Organization, membership: Membership, connection_id: int
) -> HttpResponse:
    connection = connection_for_page(org, connection_id)
    initial = {
        "jit_enabled": connection.jit_enabled,
        "default_role": connection.default_role,
        "groups_attribute": connection.groups_attribute,
        "role_mapping": format_role_mapping(connection.role_mapping),
        "mfa_trust": connection.mfa_trust,
        "domain_ids": [str(d.pk) for d in connection.domains.all()],
    }
    form = AccountsForm(request.POST or None, initial=initial, org=org)
    status = 200
    if request.method == "POST":
        if form.is_valid() and submit(
            form,
            lambda: services.update_accounts(
                actor=membership, org=org, connection_id=connection.pk, **form.cleaned_data
            ),
        ):
            messages.success(request, "Accounts and roles were saved.")
            return redirect(next_url(org, connection, "accounts"))
        status = 400
    return wizard_page(
        request,
        org,
        membership,
        connection,
        "sso/portal/step_accounts.html",
        "accounts",
        status=status,
        form=form,
        unverified_domains=[d for d in connection.domains.all() if not d.is_verified],
    )
