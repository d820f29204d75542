"""The management API keeps the promises its OpenAPI schema makes.

A bounded schemathesis run (every check it has, a few dozen generated requests per operation)
drives a live Gatehouse over HTTP, once as an organization's admin and once anonymously. Any
answer the schema does not describe (an undocumented status, a body of the wrong shape, a
valid request refused, an invalid one accepted, a 500) fails the test with schemathesis's
report of the request that broke it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from organizations import services
from organizations.models import Membership
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
ADMIN_CONFIG = Path(__file__).with_name("schemathesis.toml")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "schemathesis"
EXAMPLES_PER_OPERATION = int(os.environ.get("GATEHOUSE_SCHEMA_EXAMPLES", "30"))


def _run(
    name: str, live_server, *, config: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(SCHEMATHESIS)]
    if config is not None:
        command += ["--config-file", str(config)]
    command += [
        "run",
        f"{live_server.url}/api/schema/",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "1",
        "--workers",
        "1",
        "--no-shrink",
        "--request-timeout",
        "30",
        "--output-truncate",
        "false",
    ]
    OUTPUT.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        command,
        cwd=OUTPUT,  # schemathesis keeps a cache in the folder it runs in
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
    )
    (OUTPUT / f"{name}.txt").write_text(result.stdout + result.stderr)
    return result


@pytest.fixture
def admin_session() -> dict[str, str]:
    owner = UserFactory(email="owner@acme.example")
    org = services.create_organization(actor=owner, name="Acme", slug="acme")
    member = UserFactory(email="member@acme.example")
    Membership.objects.create(organization=org, user=member, role="member", source="admin")
    client: Client = signed_in(owner)
    # A second factor, added after signing in: when the run turns the organization's MFA policy
    # on, the owner still passes its gate and the rest of the run reaches the endpoints. And the
    # operator's consent permission, so that those endpoints are reached too.
    TOTPDevice.objects.create(user=owner, name="app", confirmed=True)
    owner.user_permissions.add(Permission.objects.get(codename="manage_subject_consents"))
    client.get("/account/")  # sets the CSRF cookie
    session = client.cookies["sessionid"].value
    csrf = client.cookies["csrftoken"].value
    return {"GATEHOUSE_TEST_SESSION": session, "GATEHOUSE_TEST_CSRF": csrf}


def test_api_matches_its_schema_for_an_organization_admin(live_server, admin_session):
    result = _run("admin", live_server, config=ADMIN_CONFIG, env=admin_session)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]


def test_api_matches_its_schema_for_anonymous_callers(live_server):
    result = _run("anonymous", live_server)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
