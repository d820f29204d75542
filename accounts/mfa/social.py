"""allauth's social accounts, with Gatehouse's step-up in front of linking a new login."""

from __future__ import annotations

from typing import Any

from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from accounts.mfa import stepup


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request: HttpRequest, sociallogin: Any) -> None:
        # Connecting another identity is a new way into the account: someone holding only a
        # stolen session must not be able to add their own.
        if (sociallogin.state or {}).get("process") == "connect" and not stepup.is_satisfied(
            request
        ):
            raise ImmediateHttpResponse(
                HttpResponseRedirect(stepup.stepup_url(reverse("socialaccount_connections")))
            )
        super().pre_social_login(request, sociallogin)
