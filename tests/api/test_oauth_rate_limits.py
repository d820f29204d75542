"""Each app has its own budget of management API calls a minute (rate_limit_per_minute),
counted in the shared cache: past it, a 429 problem with Retry-After; other apps and browser
sessions are not affected."""

from __future__ import annotations

from provider.models import Application
from tests.api.oauth_world import backend
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

USERS = "/api/v1/users/"


def test_an_app_past_its_budget_gets_429_with_retry_after(db):
    app = backend(scopes=["users:read"])
    Application.objects.filter(pk=app.application.pk).update(rate_limit_per_minute=3)
    caller = app.caller()
    assert [caller.get(USERS).status_code for _ in range(3)] == [200, 200, 200]
    response = caller.get(USERS)
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["status"] == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    # Another app has a budget of its own, and a staff session none at all.
    assert backend(name="Other", scopes=["users:read"]).caller().get(USERS).status_code == 200
    staff = signed_in(UserFactory(is_staff=True, is_superuser=True))
    assert [staff.get(USERS).status_code for _ in range(5)] == [200] * 5


def test_the_budget_is_per_app_not_per_token(db):
    app = backend(scopes=["users:read"])
    Application.objects.filter(pk=app.application.pk).update(rate_limit_per_minute=2)
    first, second = app.caller(), app.caller()
    assert first.get(USERS).status_code == 200
    assert second.get(USERS).status_code == 200
    assert first.get(USERS).status_code == 429
    assert second.get(USERS).status_code == 429


def test_a_refused_token_spends_nothing(db):
    app = backend(scopes=["users:read"])
    Application.objects.filter(pk=app.application.pk).update(rate_limit_per_minute=1)
    caller = app.caller()
    # Refused for its scope: the budget is untouched.
    assert caller.send("POST", USERS, {"email": "x@example.com"}).status_code == 403
    assert caller.get(USERS).status_code == 200
