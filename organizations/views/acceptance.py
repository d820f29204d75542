"""Accepting an invitation: the emailed link, and the page where the invited person signs in
or creates their account and joins."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import extensions
from accounts.models import User, address_is
from config.refusals import Refusal, refusal_page
from organizations.access import signed_in_at
from organizations.forms import InvitationSignupForm
from organizations.models import Membership
from organizations.pages import signed_in_user
from organizations.services.acceptance import (
    accept_invitation,
    check_invitation,
    sign_up_from_invitation,
)
from organizations.services.active import switch_active_org

INVITATION_SESSION_KEY = "gatehouse_invitation_token"
INVALID = "organizations/invitation_invalid.html"


@never_cache
@require_http_methods(["GET"])
def invitation_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link: keep the token in the session and continue at an address without it,
    so it appears in no log line, Referer header or browser history entry after this one."""
    request.session[INVITATION_SESSION_KEY] = token[:200]
    return redirect("orgs:invitation")


@never_cache
@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest) -> HttpResponse:
    """The invitation: who invites, to what, as what; accepting it as the signed-in person, or
    creating the account of the invited address. A link that cannot be used says why."""
    token = str(request.session.get(INVITATION_SESSION_KEY, ""))
    user = signed_in_user(request) if request.user.is_authenticated else None
    login_url = f"{reverse('account_login')}?next={request.path}"
    membership: Membership | None = None
    try:
        found = check_invitation(token, user)
        existing_account = User.objects.filter(address_is(found.email)).exists()
        form = InvitationSignupForm(
            request.POST if request.method == "POST" and user is None else None, email=found.email
        )
        if request.method == "POST":
            if user is None and existing_account:
                return redirect(login_url)
            membership = _accept(request, token, user, form)
    except Refusal as refusal:
        return refusal_page(request, refusal, template=INVALID)
    if membership is not None:
        return _joined(request, membership)
    # The organization may decide how its domain's members sign in from the first session on.
    signup_rule = (
        None
        if user is not None or existing_account
        else extensions.hooks.new_account_refusal(found.organization, found.email, found.role)
    )
    return render(
        request,
        "organizations/invitation.html",
        {
            "invitation": found,
            "org": found.organization,
            "form": form,
            "existing_account": existing_account,
            "signup_rule": signup_rule,
            "login_url": login_url,
        },
        status=400 if request.method == "POST" else 200,
    )


def _accept(
    request: HttpRequest, token: str, user: User | None, form: InvitationSignupForm
) -> Membership | None:
    """Accept as the signed-in ``user``, or create the invited person's account from the form
    and sign them in. None when the form is not valid."""
    if user is not None:
        return accept_invitation(token=token, user=user)
    if not form.is_valid():
        return None
    new_user, membership = sign_up_from_invitation(
        token=token, password=form.cleaned_data["password1"]
    )
    login(request, new_user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return membership


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The invited person is in: the organization becomes the session's active one."""
    request.session.pop(INVITATION_SESSION_KEY, None)
    org, user = membership.organization, membership.user
    switch_active_org(
        session=request.session, user=user, org=org, signed_in_at=signed_in_at(request, user)
    )
    messages.success(request, f"Welcome to {org.name}.")
    return redirect("orgs:overview", slug=org.slug)
