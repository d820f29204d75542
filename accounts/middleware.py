from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


class BlockedUserMiddleware:
    """Signs out a blocked user on their next request, whatever session they still hold.

    Blocking ends every tracked session at once (``accounts.services.block_user``); this is the
    backstop for a session that was never tracked or that a cache node still remembers.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "is_blocked", False):
            logout(request)
            return redirect("account_login")
        return self.get_response(request)
