"""Every request of an impersonated session: still within its time, not a change the person
keeps for themselves, and on record with both the staff member and the person."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from accounts.impersonation import guard, switch
from accounts.impersonation.models import Impersonation
from audit.actions import Action, Outcome
from audit.services import record
from config.api_framework import is_api_request, problem_response

_PATH_MAX = 500


def end_and_go_back(request: HttpRequest, imp: Impersonation, *, expired: bool) -> HttpResponse:
    """End ``imp``, give the staff member their own session back and show them the record."""
    from accounts.impersonation import services
    from provider.services.sessions import SESSION_KEY as PROVIDER_SID

    key = services.finish(
        impersonation=imp, expired=expired, provider_sid=request.session.get(PROVIDER_SID, "")
    )
    if switch.leave(request, imp.staff, key):
        return HttpResponseRedirect(reverse("impersonation_admin:detail", args=[imp.public_id]))
    return HttpResponseRedirect(reverse("account_login"))


class ImpersonationMiddleware:
    """Finds an impersonated session (the marker ``switch.enter`` left in it), ends it when its
    time is up, refuses what ``guard`` names, and records each request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.impersonation = None  # type: ignore[attr-defined]
        session = getattr(request, "session", None)
        marker = session.get(switch.MARKER) if session is not None else None
        if not marker:
            return self.get_response(request)
        imp = (
            Impersonation.objects.select_related("staff", "person").filter(public_id=marker).first()
        )
        if imp is None or imp.status != Impersonation.Status.ACTIVE:
            # Ended elsewhere (the beat job, another tab): nobody is signed in here any more.
            switch.leave(request, None, "")
            return HttpResponseRedirect(reverse("account_login"))
        if imp.ends_at is None or timezone.now() >= imp.ends_at:
            return end_and_go_back(request, imp, expired=True)
        person = imp.person
        if (
            guard.is_sign_out(request)
            # The person's session stopped being theirs (a new password ends every session),
            # or the account was blocked meanwhile: it ends, and the staff member is back.
            or request.user.pk != person.pk
            or person.is_blocked
            or not person.is_active
        ):
            return end_and_go_back(request, imp, expired=False)
        request.impersonation = imp  # type: ignore[attr-defined]
        area = guard.refused_area(request)
        record(
            Action.IMPERSONATION_ACTION_REFUSED if area else Action.IMPERSONATION_REQUEST,
            actor=imp.staff,
            target=imp.person,
            outcome=Outcome.FAILURE if area else Outcome.SUCCESS,
            data={
                "impersonation": str(imp.public_id),
                "method": request.method or "",
                "path": request.path[:_PATH_MAX],
                **({"refused": area} if area else {}),
            },
        )
        if area:
            return self._refuse(request, area)
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, area: str) -> HttpResponse:
        message = f"Support cannot change {area} while signed in as this person."
        if is_api_request(request):
            return problem_response(403, message)
        return render(
            request, "errors/refusal.html", {"message": message, "status": 403}, status=403
        )
