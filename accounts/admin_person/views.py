"""The person page's context and its support-action endpoint.

``/admin/accounts/user/<id>/support/<action>/``: a GET shows the action's reason form on its
own page; a POST (CSRF-checked by the admin) with a reason runs it and returns to the person's
page with a message. A POST without a reason shows the form again with the error and does
nothing. Staff without the action's permissions get 403, on GET and POST alike; a refusal
from the service becomes an error message on the person's page, never a 500.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.admin_person import selectors
from accounts.admin_person.actions import ACTIONS, SupportAction, permitted
from accounts.forms import ReasonForm
from accounts.impersonation import rules as impersonation_rules
from accounts.models import User
from config.refusals import Refusal, admin_refusal

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin


class SupportActionForm(ReasonForm):
    """The reason, and for a removal from an organization which membership."""

    membership = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


def _allowed(
    model_admin: ModelAdmin[Any], request: HttpRequest, action: SupportAction, user: User
) -> bool:
    actor = cast(User, request.user)
    return (
        model_admin.has_change_permission(request, user)
        and permitted(action, actor)
        and action.applies(user, actor)
    )


def available_actions(
    model_admin: ModelAdmin[Any], request: HttpRequest, person: selectors.Person
) -> dict[str, SupportAction]:
    """The actions this staff member may take on this person now, by name (the page shows a
    button for each, and none for the rest)."""
    user = person.user
    if user.erased_at is not None:
        return {}
    offered = {
        name: action
        for name, action in ACTIONS.items()
        if _allowed(model_admin, request, action, user)
    }
    if "resend-verification" in offered and all(a.verified for a in person.addresses):
        del offered["resend-verification"]
    if not person.memberships:
        offered.pop("remove-membership", None)
    return offered


def page_context(model_admin: ModelAdmin[Any], request: HttpRequest, user: User) -> dict[str, Any]:
    person = selectors.person(user)
    offered = available_actions(model_admin, request, person)
    return {
        "person": person,
        "support_actions": [a for a in offered.values() if not a.per_membership],
        "membership_action": offered.get("remove-membership"),
        "reason_form": SupportActionForm(auto_id=False),
        "impersonation_url": _impersonation_url(request, user),
    }


def _impersonation_url(request: HttpRequest, user: User) -> str | None:
    """Where staff who may sign in as this person start it (accounts/impersonation); None
    when they may not, or nobody may be impersonated as this person."""
    staff = cast(User, request.user)
    if not impersonation_rules.may_impersonate(staff):
        return None
    try:
        impersonation_rules.check_person(staff, user)
    except Refusal:
        return None
    return reverse("impersonation_admin:start", args=[user.pk])


@require_http_methods(["GET", "POST"])
def support_action(
    request: HttpRequest, object_id: str, action_name: str, *, model_admin: ModelAdmin[Any]
) -> HttpResponse:
    action = ACTIONS.get(action_name)
    if action is None or not object_id.isdigit():
        raise Http404("No such support action.")
    user = User.objects.filter(pk=int(object_id)).first()
    if user is None:
        raise Http404("No such user.")
    if user.erased_at is not None or not _allowed(model_admin, request, action, user):
        raise PermissionDenied
    person_url = reverse("admin:accounts_user_change", args=[user.pk])
    form = SupportActionForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        membership_id = form.cleaned_data.get("membership")
        if action.per_membership and not _their_membership(user, membership_id):
            form.add_error(None, "Choose one of this person's organizations.")
        else:
            try:
                done = action.perform(
                    user, cast(User, request.user), form.cleaned_data["reason"], membership_id
                )
            except Refusal as refusal:
                admin_refusal(model_admin, request, refusal)
            else:
                model_admin.message_user(request, done, messages.SUCCESS)
            return HttpResponseRedirect(person_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"{action.label}: give a reason",
        "opts": model_admin.model._meta,
        "original": user,
        "action": action,
        "form": form,
        "person_url": person_url,
    }
    return TemplateResponse(request, "admin/accounts/user/support_action.html", context)


def _their_membership(user: User, membership_id: int | None) -> bool:
    from organizations.models import Membership

    return (
        membership_id is not None
        and Membership.objects.filter(
            pk=membership_id, user=user, status=Membership.Status.ACTIVE
        ).exists()
    )
