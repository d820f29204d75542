"""What the consent API tests share: the paths, the fields of an event, requests with a JSON
body and problem answers (``settle`` and the ``person``, ``me`` and ``operator`` fixtures are
in conftest)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from django.test import Client

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

ME_CONSENTS = "/api/v1/me/consents/"
ME_EVENTS = "/api/v1/me/consent-events/"
EVENT_FIELDS = {
    "id",
    "purpose",
    "purpose_id",
    "organization",
    "decision",
    "method",
    "version",
    "occurred_at",
    "recorded_at",
    "details",  # empty but for OAuth consent (the app, its scopes, the organization)
    "receipt_url",
}


def post(client: Client, path: str, data: object) -> TestResponse:
    body = data if isinstance(data, str) else json.dumps(data)
    return client.post(path, body, content_type="application/json")


def consents_by_key(body: dict) -> dict[str, dict]:
    return {row["purpose"]["key"]: row for row in body["consents"]}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def subject_path(user, rest: str) -> str:
    return f"/api/v1/users/{user.public_id}/{rest}"
