"""Gatehouse's policy on top of django-allauth's account flows."""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.sites.shortcuts import get_current_site
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import services
from audit.actions import Action, Outcome
from audit.services import record


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Render now, deliver later: every email goes out through a Celery task."""
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        services.queue_email(template=template_prefix, message=message)

    def pre_login(
        self, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any
    ) -> HttpResponse | None:
        if getattr(user, "is_blocked", False):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            record(
                Action.LOGIN_BLOCKED,
                actor=None,
                actor_text=str(user),
                target=user,
                outcome=Outcome.FAILURE,
            )
            return render(request, "account/blocked.html", status=403)
        return super().pre_login(request, user, **kwargs)
