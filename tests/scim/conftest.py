"""Fixtures for the SCIM tests: an organization with a verified domain, its directory turned on
with a token, and a client that calls ``/scim/v2/`` the way a directory does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone

from organizations.models import Domain, Organization
from sso.scim import tokens
from sso.scim.models import Directory

SCIM_JSON = "application/scim+json"
BASE = "/scim/v2"


@dataclass
class ScimWorld:
    org: Organization
    domain: Domain
    directory: Directory
    token: str
    client: ScimClient


class ScimClient:
    """Django's test client with a directory's bearer token and SCIM's media type."""

    def __init__(self, token: str) -> None:
        self.http = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def _url(self, path: str) -> str:
        return path if path.startswith("/") else f"{BASE}/{path}"

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: Any):
        return self.http.get(self._url(path), params or {}, headers=headers)

    def send(self, method: str, path: str, body: Any = None, **headers: Any):
        data = body if isinstance(body, (str, bytes)) else json.dumps(body)
        call = getattr(self.http, method.lower())
        return call(
            self._url(path),
            data=b"" if body is None else data,
            content_type=headers.pop("content_type", SCIM_JSON),
            headers=headers,
        )

    def post(self, path: str, body: Any, **headers: Any):
        return self.send("POST", path, body, **headers)

    def put(self, path: str, body: Any, **headers: Any):
        return self.send("PUT", path, body, **headers)

    def patch(self, path: str, body: Any, **headers: Any):
        return self.send("PATCH", path, body, **headers)

    def delete(self, path: str, **headers: Any):
        return self.send("DELETE", path, None, **headers)


def make_directory(slug: str, domain_name: str) -> ScimWorld:
    """An organization with ``domain_name`` verified and its directory on, with a token."""
    with transaction.atomic():
        org = Organization.objects.create(name=slug.title(), slug=slug)
        domain = Domain.objects.create(
            organization=org,
            name=domain_name,
            verification_token=f"token-{slug}",
            verified_at=timezone.now(),
        )
        directory = Directory.objects.create(organization=org, status=Directory.Status.ACTIVE)
        directory.domains.add(domain)
        _, token = tokens.new_token(directory)
    return ScimWorld(org, domain, directory, token, ScimClient(token))


@pytest.fixture
def scim(db) -> ScimWorld:
    """Acme's directory (acme.test), on."""
    return make_directory("acme", "acme.test")


@pytest.fixture
def other_scim(db) -> ScimWorld:
    """Globex's directory (globex.test): another organization, for isolation tests."""
    return make_directory("globex", "globex.test")
