"""The short middleware path of the endpoints only machines call (config/machine_endpoints.py):
the same answers and headers as through the full stack, the HTTPS rule, audit context and
refusals kept, and the browser endpoints still on the full stack."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from django.views import View

from audit.models import AuditEvent
from config.machine_endpoints import MachineEndpointMiddleware, machine_routes
from config.refusals import Refusal

SHORT_PATH = "config.machine_endpoints.MachineEndpointMiddleware"
MACHINE_PATHS = ("/o/token/", "/o/introspect/", "/o/revoke_token/", "/o/device-authorization/")
REQUEST_ID = "req-machine-0001"


def full_stack() -> override_settings:
    """Settings with the short path taken out: every request through every middleware."""
    return override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m != SHORT_PATH])


def headers(response: Any) -> dict[str, str]:
    """The headers, less ``Vary: Cookie``: the full stack's sign-in layers read the (empty)
    session and so say the answer depends on cookies; on the short path nothing reads it, and
    the answer indeed depends on none (it is no-store either way)."""
    return {k: v for k, v in response.headers.items() if (k, v) != ("Vary", "Cookie")}


def post(path_: str, body: dict[str, str], auth: str = "Basic bm9ib2R5Om5vdGhpbmc=") -> Any:
    return Client().post(path_, body, HTTP_AUTHORIZATION=auth, HTTP_X_REQUEST_ID=REQUEST_ID)


def test_the_short_path_is_in_the_stack():
    assert SHORT_PATH in settings.MIDDLEWARE
    assert settings.MIDDLEWARE.index(SHORT_PATH) == (
        settings.MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1
    )


def test_it_takes_exactly_the_machine_endpoints():
    routes = machine_routes(None)

    assert sorted(routes) == sorted(MACHINE_PATHS)


@pytest.mark.parametrize("machine_path", MACHINE_PATHS)
def test_same_answer_and_headers_as_through_the_full_stack(machine_path, signing_keys):
    body = {"grant_type": "client_credentials", "token": "x", "client_id": "nobody"}
    short = post(machine_path, body)
    with full_stack():
        full = post(machine_path, body)

    assert short.status_code == full.status_code
    assert short.content == full.content
    assert headers(short) == headers(full)
    assert "Vary" not in short
    assert short["X-Request-ID"] == REQUEST_ID
    assert short["X-Frame-Options"] == "DENY"
    assert short["X-Content-Type-Options"] == "nosniff"
    assert short["Referrer-Policy"] == "same-origin"
    assert short["Cross-Origin-Opener-Policy"] == "same-origin"
    assert short["Content-Length"] == str(len(short.content))


def test_a_granted_token_has_the_full_stacks_headers(backend, invoices_api):
    body = {"grant_type": "client_credentials", "resource": invoices_api.identifier}
    short = post("/o/token/", body, backend.basic())
    with full_stack():
        full = post("/o/token/", body, backend.basic())

    assert short.status_code == full.status_code == 200
    assert headers(short).keys() == headers(full).keys()
    assert short["Cache-Control"] == "no-store"


@pytest.mark.parametrize("machine_path", MACHINE_PATHS)
def test_http_is_sent_to_https_when_the_deployment_says_so(machine_path):
    with override_settings(SECURE_SSL_REDIRECT=True):
        plain = Client().post(machine_path, {"grant_type": "client_credentials"})
        secure = Client().post(machine_path, {"grant_type": "client_credentials"}, secure=True)

    assert plain.status_code == 301
    assert plain["Location"] == f"https://testserver{machine_path}"
    assert secure.status_code != 301


def test_an_issuance_is_audited_with_the_request_id_address_and_agent(backend, invoices_api):
    response = Client().post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": invoices_api.identifier},
        HTTP_AUTHORIZATION=backend.basic(),
        HTTP_X_REQUEST_ID=REQUEST_ID,
        HTTP_USER_AGENT="billing-backend/2.1",
        REMOTE_ADDR="203.0.113.9",
    )

    assert response.status_code == 200, response.content
    event = AuditEvent.objects.get(action="oauth.token_issued", request_id=REQUEST_ID)
    assert event.ip == "203.0.113.9"
    assert event.user_agent == "billing-backend/2.1"
    assert event.actor_text == f"client {backend.client_id}"


def test_a_refusal_is_a_json_problem(backend, invoices_api, monkeypatch):
    def refuse(*args, **kwargs):
        raise Refusal("Too many token requests.", status=429, retry_after=30)

    monkeypatch.setattr("provider.validator.clients.spend", refuse)

    response = post("/o/token/", {"grant_type": "client_credentials"}, backend.basic())

    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"] == "Too many token requests."
    assert response["Retry-After"] == "30"
    assert response["X-Frame-Options"] == "DENY"


def test_a_session_cookie_does_not_make_a_token_request_a_persons(
    logged_in_client, backend, invoices_api
):
    response = logged_in_client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "resource": invoices_api.identifier},
        HTTP_AUTHORIZATION=backend.basic(),
        HTTP_X_REQUEST_ID=REQUEST_ID,
    )

    assert response.status_code == 200, response.content
    # The session was never read (the full stack's sign-in layers read it: "Vary: Cookie").
    assert "Vary" not in response
    assert not response.cookies
    event = AuditEvent.objects.get(action="oauth.token_issued", request_id=REQUEST_ID)
    assert event.actor is None
    assert event.actor_text == f"client {backend.client_id}"


def test_browser_endpoints_keep_the_full_stack(logged_in_client):
    # The device page finds the signed-in person in the session.
    page = logged_in_client.get("/device")
    assert page.status_code == 200
    assert "Cookie" in page["Vary"]
    assert page["X-Frame-Options"] == "DENY"
    # An anonymous browser is sent to sign in (the session and auth layers).
    anonymous = Client().get("/device")
    assert anonymous.status_code == 302
    assert "/accounts/login/" in anonymous["Location"]
    # UserInfo and authorization still pass the whole stack: their answers vary on the
    # cookie the sign-in layers read.
    for browser in (
        Client().get("/o/userinfo/"),
        Client().get("/o/authorize/", {"client_id": "x", "response_type": "code"}),
    ):
        assert "Cookie" in browser["Vary"]


class _CheckedView(View):
    """A token view that wants CSRF checks (not csrf_exempt)."""


urlpatterns = [
    path("o/", include(([path("token/", _CheckedView.as_view(), name="token")], "oauth2_provider")))
]


def test_a_view_that_is_not_csrf_exempt_keeps_the_full_stack():
    assert machine_routes(__name__) == {}
    short = MachineEndpointMiddleware(lambda request: HttpResponse())
    assert short._machine_route("/o/token/") is not None  # the real URLconf still routes it
