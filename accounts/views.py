"""Self-service pages at /account/: profile and sessions.

Email addresses and password are allauth's own views, styled by templates/ and mounted under
/account/ as well (see accounts/urls.py); accounts.allauth_flows has Gatehouse's versions of
other allauth pages.
"""

from __future__ import annotations

from typing import cast

from allauth.usersessions.models import UserSession
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts import services
from accounts.forms import ProfileForm
from accounts.models import SignInRisk, User
from accounts.profiling import forms as profile_forms
from accounts.profiling.selectors import active_fields, values_by_key
from accounts.profiling.services import save_answers


def _user(request: HttpRequest) -> User:
    """The signed-in user of a view behind login_required."""
    return cast(User, request.user)


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = ProfileForm(request.POST or None, initial={"display_name": user.display_name})
    # The operator's profile fields (accounts/profiling/), each editable; a required one
    # cleared here is asked again at its next occasion.
    fields = active_fields()
    profile_forms.add_fields(form, fields, required=False, initial=values_by_key(user))
    if request.method == "POST" and form.is_valid():
        services.update_profile(user=user, display_name=form.cleaned_data["display_name"])
        if fields:
            save_answers(
                user=user,
                fields=fields,
                values=profile_forms.answered(form, fields),
                skip_blank=False,
            )
        messages.success(request, "Your profile was saved.")
        return redirect("selfservice:profile")
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/profile.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def sessions(request: HttpRequest) -> HttpResponse:
    current_key = request.session.session_key
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "revoke":
            return _revoke_one(request, current_key)
        if action == "revoke_others":
            count = services.revoke_all_sessions(
                user=_user(request), actor=_user(request), keep_session_key=current_key
            )
            messages.success(request, f"Signed out of {count} other session(s).")
            return redirect("selfservice:sessions")
        if action == "revoke_all":
            services.revoke_all_sessions(user=_user(request), actor=_user(request))
            logout(request)
            messages.success(request, "You were signed out everywhere, including here.")
            return redirect("account_login")
        messages.error(request, "Choose which session to sign out.")
        return _render_sessions(request, current_key, status=400)
    return _render_sessions(request, current_key)


def _revoke_one(request: HttpRequest, current_key: str | None) -> HttpResponse:
    raw_id = request.POST.get("session", "")
    # isascii(): "²".isdigit() is true, but int("²") is an error.
    session_id = int(raw_id) if raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 19 else None
    target = (
        UserSession.objects.filter(user=request.user, pk=session_id).first()
        if session_id is not None
        else None
    )
    if target is None:
        messages.error(request, "That session does not exist or has already ended.")
        return _render_sessions(request, current_key, status=404)
    services.revoke_session(user=_user(request), session_id=target.pk, actor=_user(request))
    if target.session_key == current_key:
        logout(request)
        return redirect("account_login")
    messages.success(request, "That session was signed out.")
    return redirect("selfservice:sessions")


def _render_sessions(request: HttpRequest, current_key: str | None, status: int = 200):
    user_sessions = sorted(
        UserSession.objects.purge_and_list(request.user),
        key=lambda s: s.last_seen_at,
        reverse=True,
    )
    # Each session's sign-in risk signals (accounts/takeover/), shown beside it.
    risks = {
        r.session_key: r
        for r in SignInRisk.objects.filter(
            user=_user(request), session_key__in=[s.session_key for s in user_sessions]
        )
    }
    for s in user_sessions:
        s.risk = risks.get(s.session_key)  # type: ignore[attr-defined]
    return render(
        request,
        "accounts/sessions.html",
        {"user_sessions": user_sessions, "current_key": current_key},
        status=status,
    )
