"""Home-realm discovery: "Sign in with SSO" takes an email address or an organization's slug
and sends the person to that organization's active connection.

The answer depends only on the domain (or slug), never on whether an account exists, and
costs the same queries either way: nothing here tells anyone who has an account.
"""

from __future__ import annotations

from allauth.account.internal.decorators import login_not_required
from allauth.account.utils import get_next_redirect_url
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.base import AuthProcess
from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from organizations.models import Organization
from sso.models import Connection


class DiscoveryForm(forms.Form):
    identifier = forms.CharField(
        label="Work email or organization ID",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )


def connections_for(identifier: str) -> tuple[list[Connection], Organization | None]:
    identifier = identifier.strip().lower()
    active = Connection.objects.active().select_related("organization")
    if "@" in identifier:
        domain = identifier.rpartition("@")[2]
        found = list(
            active.filter(domains__name=domain, domains__verified_at__isnull=False).distinct()
        )
        return found, found[0].organization if found else None
    org = Organization.objects.filter(slug=identifier).first()
    if org is None:
        return [], None
    return list(active.filter(organization=org)), org


def start_login(
    request: HttpRequest, connection: Connection, next_url: str | None = None
) -> HttpResponse:
    """To the connection's IdP; back to ``next_url`` (else the request's ``next``)."""
    provider = get_adapter(request).get_provider(request, connection.slug)
    return provider.redirect(
        request, AuthProcess.LOGIN, next_url=next_url or get_next_redirect_url(request)
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def discover(request: HttpRequest) -> HttpResponse:
    form = DiscoveryForm(request.POST or None, initial={"identifier": request.GET.get("org", "")})
    context: dict = {"form": form, "next": get_next_redirect_url(request) or ""}
    if request.method == "POST" and form.is_valid():
        chosen = request.POST.get("connection")
        found, org = connections_for(form.cleaned_data["identifier"])
        if chosen:
            found = [c for c in found if c.slug == chosen]
        if len(found) == 1:
            return start_login(request, found[0])
        if found:
            context.update({"choices": found, "org": org})
        else:
            context["not_found"] = True
    status = 400 if request.method == "POST" and not form.is_valid() else 200
    return render(request, "sso/discover.html", context, status=status)
