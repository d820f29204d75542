"""Bad requests get Gatehouse's own clear pages, never a bare server error."""

from __future__ import annotations

import re

from django.test import RequestFactory
from django.views import defaults

# The page uses Gatehouse's stylesheet (hashed by the manifest storage in production).
STYLESHEET = re.compile(rb"/static/gatehouse/gatehouse(\.[0-9a-f]{12})?\.css")


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert STYLESHEET.search(response.content)
    assert b"not found" in response.content.lower()


def test_request_for_a_foreign_host_is_a_styled_400(client):
    response = client.get("/accounts/login/", HTTP_HOST="evil.example.net")
    assert response.status_code == 400
    assert STYLESHEET.search(response.content)


def test_missing_csrf_token_is_a_styled_403(user, password):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/accounts/login/", {"login": user.email, "password": password})
    assert response.status_code == 403
    assert STYLESHEET.search(response.content)
    assert "_auth_user_id" not in strict.session


def test_server_error_page_renders_without_a_request_context():
    request = RequestFactory().get("/")
    response = defaults.server_error(request)
    assert response.status_code == 500
    assert STYLESHEET.search(response.content)


def test_oversized_request_body_is_refused_cleanly(client):
    response = client.post(
        "/accounts/login/",
        data=b"login=" + b"a" * (2 * 1024 * 1024),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 400
