"""The link held back until the person proves the account (social.adapter): they sign in to the
account with the address, then confirm, and the identity is linked."""

from __future__ import annotations

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.models import SocialLogin
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from accounts.mfa import stepup
from config.refusals import Refusal, refusal_page
from social import services
from social.adapter import PENDING_LINK_KEY
from social.allauth_apps import row_of


def _pending(request: HttpRequest) -> SocialLogin | None:
    data = request.session.get(PENDING_LINK_KEY)
    if not data:
        return None
    try:
        sociallogin = SocialLogin.deserialize(data)
    except (ValueError, KeyError, TypeError, LookupError):
        return None
    row = row_of(sociallogin)
    return sociallogin if row is not None and row.enabled else None


@login_not_required
def link(request: HttpRequest) -> HttpResponse:
    sociallogin = _pending(request)
    if sociallogin is None:
        request.session.pop(PENDING_LINK_KEY, None)
        return refusal_page(
            request,
            Refusal("There is no sign-in waiting to be linked. Start again.", status=404),
        )
    row = row_of(sociallogin)
    assert row is not None
    addresses = [a.email for a in sociallogin.email_addresses]
    context = {"provider": row, "email": addresses[0] if addresses else ""}
    if not request.user.is_authenticated:
        here = reverse("social:link")
        context["login_url"] = f"{reverse('account_login')}?{urlencode({'next': here})}"
        return render(request, "social/link_sign_in.html", context)
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            request.session.pop(PENDING_LINK_KEY, None)
            return HttpResponseRedirect(reverse("mfa:security"))
        if not stepup.is_satisfied(request):
            return HttpResponseRedirect(stepup.stepup_url(reverse("social:link")))
        services.link_identity(request=request, user=request.user, sociallogin=sociallogin, row=row)
        request.session.pop(PENDING_LINK_KEY, None)
        messages.success(request, f"{row.name} is linked: you can use it to sign in.")
        return HttpResponseRedirect(reverse("mfa:security"))
    return render(request, "social/link_confirm.html", context)
