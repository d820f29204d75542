"""An organization's session lifetime: a session working in it ends when the policy says."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

SESSION_DEADLINE_KEY = "gatehouse_org_session_deadline"


class OrgSessionLifetimeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        deadline = request.session.get(SESSION_DEADLINE_KEY)
        if deadline is not None and request.user.is_authenticated and time.time() > deadline:
            logout(request)
            messages.info(request, "Your organization signs you out after a while. Sign in again.")
            return redirect("account_login")
        return self.get_response(request)
