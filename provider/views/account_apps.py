"""/account/apps/: the apps a person has let act for them, with "Remove access".

Listed: every ``Authorization`` of the person (what they consented to, per organization), and
apps that hold live tokens without one (first-party apps, which never ask). Last use is the
newest token the app was issued for them. Removing access ends the tokens at once
(``provider.services.revocation``); the app has to ask again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from provider.models import AccessToken, Application, Authorization, RefreshToken
from provider.scopes import GatehouseScopes
from provider.services.revocation import remove_app_access, revoke_authorization

app_name = "connected_apps"


@dataclass
class ConnectedApp:
    application: Application
    organization: Any
    permissions: list[str]
    last_used: datetime | None
    authorization_id: int | None = None
    agent: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _last_uses(user: Any) -> dict[tuple[int, int | None], datetime]:
    """Newest token issued per (app, organization): two grouped queries, whatever the count.
    Refresh tokens count too, since access tokens are purged soon after they expire."""
    newest: dict[tuple[int, int | None], datetime] = {}
    for model in (AccessToken, RefreshToken):
        rows = (
            model.objects.filter(user=user)
            .values("application_id", "organization_id")
            .annotate(last=Max("created"))
            .order_by()
        )
        for row in rows:
            key = (row["application_id"], row["organization_id"])
            if key not in newest or row["last"] > newest[key]:
                newest[key] = row["last"]
    return newest


def _live_token_apps(user: Any) -> set[tuple[int, int | None]]:
    now = timezone.now()
    pairs: set[tuple[int, int | None]] = set()
    for queryset in (
        RefreshToken.objects.filter(user=user, revoked__isnull=True),
        AccessToken.objects.filter(user=user, expires__gt=now),
    ):
        pairs.update(queryset.values_list("application_id", "organization_id").distinct())
    return pairs


def connected_apps(user: Any) -> list[ConnectedApp]:
    words = GatehouseScopes().get_all_scopes()
    uses = _last_uses(user)
    listed: list[ConnectedApp] = []
    authorized_apps: set[int] = set()
    authorizations = Authorization.objects.filter(user=user).select_related(
        "application", "organization"
    )
    for authorization in authorizations.order_by("application__name", "pk"):
        authorized_apps.add(authorization.application_id)
        last = uses.get((authorization.application_id, authorization.organization_id))
        if authorization.last_used_at and (last is None or authorization.last_used_at > last):
            last = authorization.last_used_at
        listed.append(
            ConnectedApp(
                application=authorization.application,
                organization=authorization.organization,
                permissions=[words.get(scope, scope) for scope in authorization.scopes],
                last_used=last,
                authorization_id=authorization.pk,
                agent=_is_agent(authorization.application),
            )
        )
    unlisted = sorted({app for app, _org in _live_token_apps(user)} - authorized_apps)
    if unlisted:
        scopes_by_app: dict[int, list[str]] = {}
        for app_id, scope in (
            RefreshToken.objects.filter(user=user, application_id__in=unlisted)
            .filter(Q(revoked__isnull=True))
            .values_list("application_id", "access_token__scope")
        ):
            for name in (scope or "").split():
                scopes_by_app.setdefault(app_id, []).append(name)
        for application in Application.objects.filter(pk__in=unlisted).order_by("name"):
            last_uses = [when for (app, _org), when in uses.items() if app == application.pk]
            names = list(dict.fromkeys(scopes_by_app.get(application.pk, [])))
            listed.append(
                ConnectedApp(
                    application=application,
                    organization=None,
                    permissions=[words.get(scope, scope) for scope in names],
                    last_used=max(last_uses) if last_uses else None,
                    agent=_is_agent(application),
                )
            )
    return listed


def _is_agent(application: Application) -> bool:
    """An app that registered itself (an AI agent's client metadata document): listed with an
    "Agent" badge and the host its document came from."""
    return application.self_registered


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request, "provider/account_apps.html", {"connected_apps": connected_apps(request.user)}
    )


@login_required
@require_POST
def remove(request: HttpRequest, authorization_id: int) -> HttpResponse:
    """Only the person's own authorization is found: another's is a 404, like a missing one."""
    if not revoke_authorization(authorization_id=authorization_id, user=request.user):
        raise Http404("No such app access.")
    messages.success(request, "Access removed. The app can no longer act for you.")
    return redirect("connected_apps:index")


@login_required
@require_POST
def remove_tokens(request: HttpRequest, client_id: str) -> HttpResponse:
    application = Application.objects.filter(client_id=client_id).first()
    if application is None or not remove_app_access(
        user=request.user, application_id=application.pk
    ):
        raise Http404("No such app access.")
    messages.success(request, "Access removed. The app can no longer act for you.")
    return redirect("connected_apps:index")


urlpatterns = [
    path("", index, name="index"),
    path("<int:authorization_id>/remove/", remove, name="remove"),
    path("clients/<str:client_id>/remove/", remove_tokens, name="remove_tokens"),
]
