"""What every page of the organization portal shares, the SSO tab (sso/portal/) included.

``org_page`` resolves the organization from the URL's slug once, together with the signed-in
user's *active* membership in it: someone who is not a member gets a 404 (the organization's
existence is not confirmed), a member without the permission a 403 that is audited. It is
also where the portal answers a refusal, in one way for every page:

- a form's refusal is shown on the form (``submitted``), with the refusal's status;
- what does not exist, or is not the member's to see, is the 404 page;
- a refused access (403), or a refused page, is the portal's error page;
- a refused action (a button, e.g. removing the last owner) is a message on the page it was
  pressed on.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from accounts.models import User
from config.refusals import Refusal, refusal_page
from organizations import permissions
from organizations.access import SessionTooOld, resolve_membership
from organizations.models import Membership, Organization
from organizations.permissions import Perm
from organizations.services.guards import require

PAGE_SIZE = 50

PortalView = Callable[..., HttpResponse]


def signed_in_user(request: HttpRequest) -> User:
    """The request's user, on a page that requires signing in."""
    return cast(User, request.user)


def org_page(perm: Perm) -> Callable[[PortalView], PortalView]:
    """A portal page of ``/orgs/<slug>/...`` that needs ``perm``. The view is called as
    ``view(request, org, membership, ...)`` and may raise ``Refusal``."""

    def decorator(view: PortalView) -> PortalView:
        @login_required
        @never_cache
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                org, membership = resolve_membership(request, slug)
            except Http404:
                return render(request, "404.html", status=404)
            except SessionTooOld:
                logout(request)
                messages.info(request, "This organization asks you to sign in again.")
                return redirect(f"{reverse('account_login')}?next={request.path}")
            try:
                require(membership, org, perm, f"{request.method} {view.__name__}")
                return view(request, org, membership, *args, **kwargs)
            except Refusal as refusal:
                return _refused(request, org, membership, refusal)

        return wrapper

    return decorator


def _refused(
    request: HttpRequest, org: Organization, membership: Membership, refusal: Refusal
) -> HttpResponse:
    """The portal's answer to a refusal that no form showed (see the module's docstring)."""
    if refusal.status == 404:
        return refusal_page(request, refusal, template="404.html")
    if refusal.status == 403 or request.method != "POST":
        return refusal_page(
            request,
            refusal,
            template="organizations/error.html",
            context=page_context(org, membership),
        )
    refusal.record()
    messages.error(request, refusal.message)
    return redirect(request.path)


def page_context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    """The template context every portal page starts from: the organization, the member's
    membership and what their role lets them see, plus ``extra``."""
    return {
        "org": org,
        "membership": membership,
        "is_admin": permissions.is_admin(membership),
        "is_owner": permissions.allowed(membership, Perm.TRANSFER_OWNERSHIP),
        **extra,
    }


def submitted(form: Any, call: Callable[[], Any], field: str | None = None) -> Any:
    """Run a service with a valid form's data. A refused access (403) goes up to ``org_page``'s
    error page; any other refusal is shown on the form (on ``field``), and the page answers
    with its status (``form.refusal_status``). Returns the service's result, or None."""
    try:
        return call()
    except Refusal as refusal:
        if refusal.status == 403:
            raise
        refusal.record()
        form.add_error(field, refusal.message)
        form.refusal_status = refusal.status
        return None
