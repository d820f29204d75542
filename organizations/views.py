"""The organization portal at /orgs/<slug>/ and the invitation page.

Every portal view resolves the organization from the slug once (``org_page``), together with
the signed-in user's *active* membership in it: someone who is not a member gets a 404 (the
organization's existence is not confirmed), a member without the permission a 403 that is
audited. Data is always fetched ``for_org(org)``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from audit.models import AuditEvent
from config.refusals import Refusal
from organizations import permissions, services
from organizations.access import SessionTooOld, resolve_membership
from organizations.forms import (
    CreateOrganizationForm,
    DomainForm,
    InvitationSignupForm,
    InviteForm,
    PolicyForm,
    RoleForm,
    SettingsForm,
)
from organizations.models import Domain, Invitation, Membership, Organization, OrganizationPolicy
from organizations.permissions import Perm

PAGE_SIZE = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def org_page(perm: Perm) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @never_cache
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                org, membership = resolve_membership(request, slug)
            except Http404:
                # Rendered, not raised: a raised 404 would roll back the request's transaction,
                # and with it the audit event of the probe.
                return render(request, "404.html", status=404)
            except SessionTooOld:
                logout(request)
                messages.info(request, "This organization asks you to sign in again.")
                return redirect(f"{reverse('account_login')}?next={request.path}")
            try:
                services.require(membership, org, perm, f"{request.method} {view.__name__}")
            except Refusal as exc:
                exc.record()
                return _error_page(request, org, membership, exc)
            try:
                return view(request, org, membership, *args, **kwargs)
            except Refusal as exc:
                exc.record()
                if exc.status == 404:
                    raise Http404(str(exc)) from None
                return _error_page(request, org, membership, exc)

        return wrapper

    return decorator


def _error_page(
    request: HttpRequest, org: Organization, membership: Membership, exc: Refusal
) -> HttpResponse:
    if exc.status == 403 or request.method != "POST":
        return render(
            request,
            "organizations/error.html",
            _context(org, membership, message=str(exc)),
            status=exc.status,
        )
    messages.error(request, str(exc))
    return redirect(request.path)


def _context(org: Organization, membership: Membership, **extra: Any) -> dict[str, Any]:
    return {
        "org": org,
        "membership": membership,
        "is_admin": permissions.is_admin(membership),
        "is_owner": permissions.allowed(membership, Perm.TRANSFER_OWNERSHIP),
        **extra,
    }


def _submitted(form: Any, call: Callable[[], Any], field: str | None = None) -> Any:
    """Run a service with a valid form's data. A refusal (403) goes up to the portal's error
    page; any other error is shown on the form. Returns the service's result, or None."""
    try:
        return call()
    except Refusal as exc:
        if exc.status == 403:
            raise
        form.add_error(field, str(exc))
        form.refusal_status = exc.status  # the page answers with the refusal's status
        return None


def _int(value: Any) -> int | None:
    value = str(value or "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


# --- Index, create, switch ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = CreateOrganizationForm(request.POST or None)
    status = 200
    if request.method == "POST":
        org = form.is_valid() and _submitted(
            form,
            lambda: services.create_organization(
                actor=user, name=form.cleaned_data["name"], slug=form.cleaned_data["slug"]
            ),
            "slug",
        )
        if org:
            services.switch_active_org(request=request, user=user, org=org)
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
            "active_org_id": request.session.get(services.ACTIVE_ORG_SESSION_KEY),
        },
        status=status,
    )


@login_required
@require_POST
def switch(request: HttpRequest) -> HttpResponse:
    slug = request.POST.get("slug", "")
    if not slug:
        services.switch_active_org(request=request, user=_user(request), org=None)
        return redirect("orgs:index")
    try:
        org, _ = resolve_membership(request, slug)
    except SessionTooOld:
        logout(request)
        return redirect("account_login")
    services.switch_active_org(request=request, user=_user(request), org=org)
    messages.success(request, f"You are now working in {org.name}.")
    return redirect("orgs:overview", slug=org.slug)


# --- Overview and members -------------------------------------------------------------------------


@org_page(Perm.VIEW)
@require_http_methods(["GET"])
def overview(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    members = Membership.objects.for_org(org).active()
    context = _context(
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
        _context(org, membership, page=page, query=query, role_form=RoleForm()),
    )


@org_page(Perm.MANAGE_MEMBERS)
@require_POST
def member_role(
    request: HttpRequest, org: Organization, membership: Membership, member_id: int
) -> HttpResponse:
    form = RoleForm(request.POST)
    if not form.is_valid():
        raise Refusal("Choose owner, admin or member.")
    target = services.change_role(
        actor=membership, org=org, member_id=member_id, role=form.cleaned_data["role"]
    )
    messages.success(request, f"{target.user.email} is now {target.get_role_display().lower()}.")
    return redirect("orgs:members", slug=org.slug)


@org_page(Perm.MANAGE_MEMBERS)
@require_POST
def member_remove(
    request: HttpRequest, org: Organization, membership: Membership, member_id: int
) -> HttpResponse:
    target = services.remove_member(actor=membership, org=org, member_id=member_id)
    messages.success(request, f"{target.user.email} was removed from {org.name}.")
    return redirect("orgs:members", slug=org.slug)


@org_page(Perm.VIEW)
@require_POST
def leave(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    services.leave(membership=membership)
    if request.session.get(services.ACTIVE_ORG_SESSION_KEY) == org.pk:
        request.session.pop(services.ACTIVE_ORG_SESSION_KEY, None)
    messages.success(request, f"You left {org.name}.")
    return redirect("orgs:index")


@org_page(Perm.TRANSFER_OWNERSHIP)
@require_POST
def transfer(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    member_id = _int(request.POST.get("member"))
    if member_id is None:
        raise Refusal("Choose who becomes the owner.")
    target = services.transfer_ownership(actor=membership, org=org, member_id=member_id)
    messages.success(request, f"{target.user.email} now owns {org.name}; you are an admin.")
    return redirect("orgs:members", slug=org.slug)


# --- Invitations ----------------------------------------------------------------------------------


@org_page(Perm.MANAGE_INVITATIONS)
@require_http_methods(["GET", "POST"])
def invitations(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = InviteForm(request.POST or None)
    status = 200
    if request.method == "POST":
        invitation = form.is_valid() and _submitted(
            form,
            lambda: services.invite(
                request=request,
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
        _context(org, membership, form=form, page=page),
        status=status,
    )


@org_page(Perm.MANAGE_INVITATIONS)
@require_POST
def invitation_resend(
    request: HttpRequest, org: Organization, membership: Membership, invitation_id: int
) -> HttpResponse:
    invitation = services.resend_invitation(
        request=request, actor=membership, org=org, invitation_id=invitation_id
    )
    messages.success(request, f"Invitation sent again to {invitation.email}.")
    return redirect("orgs:invitations", slug=org.slug)


@org_page(Perm.MANAGE_INVITATIONS)
@require_POST
def invitation_revoke(
    request: HttpRequest, org: Organization, membership: Membership, invitation_id: int
) -> HttpResponse:
    invitation = services.revoke_invitation(actor=membership, org=org, invitation_id=invitation_id)
    messages.success(request, f"The invitation to {invitation.email} was withdrawn.")
    return redirect("orgs:invitations", slug=org.slug)


# --- Domains --------------------------------------------------------------------------------------


@org_page(Perm.MANAGE_DOMAINS)
@require_http_methods(["GET", "POST"])
def domains(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = DomainForm(request.POST or None)
    status = 200
    if request.method == "POST":
        domain = form.is_valid() and _submitted(
            form,
            lambda: services.add_domain(actor=membership, org=org, name=form.cleaned_data["name"]),
            "name",
        )
        if domain:
            messages.success(request, f"Add the TXT record below, then verify {domain.name}.")
            return redirect("orgs:domains", slug=org.slug)
        status = 400
    return render(
        request,
        "organizations/domains.html",
        _context(org, membership, form=form, domains=Domain.objects.for_org(org)),
        status=status,
    )


@org_page(Perm.MANAGE_DOMAINS)
@require_POST
def domain_verify(
    request: HttpRequest, org: Organization, membership: Membership, domain_id: int
) -> HttpResponse:
    domain = services.verify_domain(actor=membership, org=org, domain_id=domain_id)
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
    services.remove_domain(actor=membership, org=org, domain_id=domain_id)
    messages.success(request, "The domain was removed.")
    return redirect("orgs:domains", slug=org.slug)


# --- Policy and settings --------------------------------------------------------------------------


@org_page(Perm.MANAGE_POLICY)
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    current = OrganizationPolicy.objects.get(organization=org)
    initial = {
        "require_mfa": current.require_mfa,
        "allowed_login_methods": current.allowed_login_methods,
        "sso_only": current.sso_only,
        "session_lifetime_minutes": current.session_lifetime_minutes,
        "auto_join_verified_domains": current.auto_join_verified_domains,
        "default_role": current.default_role,
    }
    form = PolicyForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid() and _submitted(
            form, lambda: services.update_policy(actor=membership, org=org, **form.cleaned_data)
        ):
            messages.success(request, "The policy was saved.")
            return redirect("orgs:policy", slug=org.slug)
        status = 400
    return render(
        request, "organizations/policy.html", _context(org, membership, form=form), status=status
    )


@org_page(Perm.MANAGE_SETTINGS)
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    form = SettingsForm(
        request.POST or None,
        initial={"name": org.name, "logo_url": org.logo_url, "brand_colour": org.brand_colour},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid() and _submitted(
            form,
            lambda: services.update_organization(actor=membership, org=org, **form.cleaned_data),
        ):
            messages.success(request, "Saved.")
            return redirect("orgs:settings", slug=org.slug)
        status = 400
    return render(
        request, "organizations/settings.html", _context(org, membership, form=form), status=status
    )


@org_page(Perm.MANAGE_MEMBERS)
@require_http_methods(["GET"])
def audit_log(request: HttpRequest, org: Organization, membership: Membership) -> HttpResponse:
    events = AuditEvent.objects.filter(organization_id=org.pk).order_by("-occurred_at")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "organizations/audit.html", _context(org, membership, page=page))


# --- Accepting an invitation ----------------------------------------------------------------------


INVITATION_SESSION_KEY = "gatehouse_invitation_token"


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
    token = str(request.session.get(INVITATION_SESSION_KEY, ""))
    user = _user(request) if request.user.is_authenticated else None
    try:
        found = services.check_invitation(token, user)
    except Refusal as exc:
        return render(
            request,
            "organizations/invitation_invalid.html",
            {"message": str(exc)},
            status=exc.status,
        )
    existing_account = User.objects.filter(email__iexact=found.email).exists()
    # The organization may decide how its domain's members sign in from the first session on.
    from sso.enforcement import new_account_refusal

    signup_rule = (
        None
        if user is not None or existing_account
        else new_account_refusal(found.organization, found.email, found.role)
    )
    form = InvitationSignupForm(
        request.POST if request.method == "POST" and user is None else None, email=found.email
    )
    status = 200
    if request.method == "POST":
        try:
            if user is not None:
                membership = services.accept_invitation(token=token, user=user)
            elif existing_account:
                return redirect(f"{reverse('account_login')}?next={request.path}")
            elif form.is_valid():
                new_user, membership = services.sign_up_from_invitation(
                    token=token, password=form.cleaned_data["password1"]
                )
                login(
                    request, new_user, backend="allauth.account.auth_backends.AuthenticationBackend"
                )
            else:
                membership = None
                status = 400
        except Refusal as exc:
            return render(
                request,
                "organizations/invitation_invalid.html",
                {"message": str(exc)},
                status=exc.status,
            )
        if membership is not None:
            request.session.pop(INVITATION_SESSION_KEY, None)
            org = membership.organization
            services.switch_active_org(request=request, user=membership.user, org=org)
            messages.success(request, f"Welcome to {org.name}.")
            return redirect("orgs:overview", slug=org.slug)
    return render(
        request,
        "organizations/invitation.html",
        {
            "invitation": found,
            "org": found.organization,
            "form": form,
            "existing_account": existing_account,
            "signup_rule": signup_rule,
            "login_url": f"{reverse('account_login')}?next={request.path}",
        },
        status=status,
    )
