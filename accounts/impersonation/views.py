"""The pages of impersonation: the staff member's (under /admin/, behind the admin's second
factor and a step-up), the approver's (an emailed link, no sign-in needed) and "End"."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import BACKEND_SESSION_KEY
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.impersonation import rules, services, switch
from accounts.impersonation.middleware import end_and_go_back
from accounts.impersonation.models import Impersonation
from accounts.mfa.stepup import stepup_required
from accounts.models import User
from config.refusals import Refusal, refusal_page

DEFAULT_BACKEND = "accounts.auth_backends.AuthenticationBackend"


class ImpersonationForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you need to see Gatehouse as this person (a ticket number helps). "
        "The person, or their organization's admins, read it.",
    )
    minutes = forms.TypedChoiceField(
        label="For",
        coerce=int,
        choices=[(m, f"{m} minutes") for m in rules.MINUTE_CHOICES],
        initial=rules.DEFAULT_MINUTES,
    )


def staff_only(view: Any) -> Any:
    """The admin's gate (staff, second factor passed), then the permission: 403 without it."""

    def check(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not rules.may_impersonate(request.user):
            raise PermissionDenied("You do not have permission to impersonate people.")
        return view(request, *args, **kwargs)

    return admin.site.admin_view(check)


def _begin(request: HttpRequest, imp: Impersonation) -> HttpResponse:
    """Start ``imp`` and switch the browser to the person's session."""
    backend = request.session.get(BACKEND_SESSION_KEY, DEFAULT_BACKEND)
    staff = request.user
    key = switch.put_staff_session_aside(request)
    try:
        imp = services.start(impersonation=imp, staff=staff, staff_session_key=key)  # type: ignore[arg-type]
    except Refusal as refusal:
        return refusal_page(request, refusal)
    switch.enter(request, imp, backend)
    return HttpResponseRedirect(reverse("selfservice:profile"))


@never_cache
@stepup_required
def start_form(request: HttpRequest, user_id: int) -> HttpResponse:
    person = get_object_or_404(User, pk=user_id)
    form = ImpersonationForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            imp = services.ask(
                staff=request.user,  # type: ignore[arg-type]
                person=person,
                reason=form.cleaned_data["reason"],
                minutes=form.cleaned_data["minutes"],
            )
        except Refusal as refusal:
            refusal.record()
            form.add_error(None, refusal.message)
            status = refusal.status
        else:
            if imp.status == Impersonation.Status.APPROVED:
                return _begin(request, imp)
            return HttpResponseRedirect(reverse("impersonation_admin:detail", args=[imp.public_id]))
    elif request.method == "POST":
        status = 400
    context = {
        **admin.site.each_context(request),
        "title": f"Sign in as {person.email}",
        "person": person,
        "form": form,
        "needs_approval": rules.organizations_asking_approval(person),
    }
    return render(request, "admin/impersonation/start.html", context, status=status)


@never_cache
def detail(request: HttpRequest, public_id: str) -> HttpResponse:
    imp = get_object_or_404(
        Impersonation.objects.select_related("staff", "person"),
        public_id=public_id,
        staff=request.user,
    )
    context = {
        **admin.site.each_context(request),
        "title": f"Impersonation of {imp.person.email}",
        "imp": imp,
        "links": imp.approval_links.select_related("approver", "organization").order_by("pk"),
    }
    return render(request, "admin/impersonation/detail.html", context)


@never_cache
@require_POST
@stepup_required
def start_approved(request: HttpRequest, public_id: str) -> HttpResponse:
    imp = get_object_or_404(Impersonation, public_id=public_id, staff=request.user)
    return _begin(request, imp)


# --- The approver's page ----------------------------------------------------------------------


@never_cache
def approve(request: HttpRequest, token: str) -> HttpResponse:
    """Shows the request (GET never decides: mail scanners open links) and takes the
    approver's answer (POST ``decision=approve`` or ``refuse``)."""
    try:
        link = services.link_for_token(token)
    except Refusal as refusal:
        return refusal_page(request, refusal)
    if request.method == "POST":
        decision = request.POST.get("decision")
        if decision not in ("approve", "refuse"):
            return refusal_page(request, Refusal("Choose approve or refuse."))
        try:
            imp = services.decide(token=token, approve=decision == "approve")
        except Refusal as refusal:
            return refusal_page(request, refusal)
        return render(
            request,
            "accounts/impersonation/decided.html",
            {"imp": imp, "approved": decision == "approve"},
        )
    return render(
        request,
        "accounts/impersonation/approve.html",
        {"link": link, "imp": link.impersonation},
    )


@require_POST
def end(request: HttpRequest) -> HttpResponse:
    """The banner's "End" button: back to the staff member's own session."""
    imp = getattr(request, "impersonation", None)
    if imp is None:
        raise Http404
    return end_and_go_back(request, imp, expired=False)
