"""POST /api/v1/users/import/: an operator's backend with users:write imports people as JSON
rows or CSV text; bad rows come back listed with the rest written; callers without the scope
or the permission, apps bound to one organization and bodies that are not an import get a
problem response, never a 500."""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.test import Client

from accounts.models import User
from audit.models import AuditEvent
from organizations import services as org_services
from tests.api.oauth_world import backend
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in

URL = "/api/v1/users/import/"
RW = ["users:read", "users:write"]
BCRYPT_OF_SECRET = "$2b$04$f./XXv7Urb5bPDnRC.0YAe.pYuvh1tCdpZFL5XK5A56OziLFtCuUK"


def problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def test_an_operator_backend_imports_people_and_is_audited_as_itself(db):
    app = backend(scopes=RW)
    body = {
        "source": "auth0",
        "people": [
            {
                "external_id": "auth0|1",
                "email": "ada@example.com",
                "email_verified": True,
                "password": {"format": "bcrypt", "hash": BCRYPT_OF_SECRET},
            },
            {"email": "not an address"},
            {"email": "grace@example.com", "display_name": "Grace"},
        ],
    }
    response = app.caller().send("POST", URL, body)
    assert response.status_code == 200, response.content
    report = response.json()
    assert (report["created"], report["refused"]) == (2, 1)
    assert report["errors"] == [
        {"line": 2, "field": "email", "reason": "Not an email address.", "email": "not an address"}
    ]
    assert User.objects.get(email="ada@example.com").password == f"bcrypt${BCRYPT_OF_SECRET}"
    summary = AuditEvent.objects.get(action="users.import_run")
    assert summary.actor_text == f"client {app.client_id}"
    assert summary.data["source"] == "auth0"

    again = app.caller().send("POST", URL, body).json()
    assert (again["created"], again["unchanged"], again["refused"]) == (0, 2, 1)
    assert User.objects.filter(email__in=["ada@example.com", "grace@example.com"]).count() == 2


def test_csv_text_and_a_dry_run(db):
    caller = backend(scopes=RW).caller()
    body = {"csv": "email,email_verified\nada@example.com,true\n", "dry_run": True}
    report = caller.send("POST", URL, body).json()
    assert report["dry_run"] is True
    assert report["rows"] == [
        {"line": 2, "email": "ada@example.com", "outcome": "created", "changes": ["account"]}
    ]
    assert not User.objects.filter(email="ada@example.com").exists()


def test_without_users_write_it_is_403_and_anonymous_401(db):
    reader = backend(scopes=["users:read"]).caller()
    body = {"people": [{"email": "ada@example.com"}]}
    assert "users:write" in problem(reader.send("POST", URL, body), 403)["detail"]
    problem(Client().post(URL, body, content_type="application/json"), 401)
    assert not User.objects.filter(email="ada@example.com").exists()


def test_an_app_bound_to_one_organization_cannot_import(db):
    owner = UserFactory()
    org = org_services.create_organization(actor=owner, name="Acme", slug="acme")
    caller = backend(scopes=RW, organization=org).caller()
    problem(caller.send("POST", URL, {"people": [{"email": "ada@example.com"}]}), 403)
    assert not User.objects.filter(email="ada@example.com").exists()


def test_staff_need_the_add_user_permission(db):
    staff = UserFactory(is_staff=True)
    client = signed_in(staff)
    client.get("/account/")
    csrf = client.cookies["csrftoken"].value
    body = '{"people": [{"email": "ada@example.com"}]}'

    def post():
        return client.post(URL, body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)

    problem(post(), 403)
    staff.user_permissions.add(Permission.objects.get(codename="add_user"))
    response = post()
    assert response.status_code == 200, response.content
    assert User.objects.filter(email="ada@example.com").exists()


def test_bodies_that_are_not_an_import_are_400_problems(db, settings):
    caller = backend(scopes=RW).caller()
    for body in (
        {},
        {"people": [], "csv": "email\n"},
        {"people": "ada@example.com"},
        {"people": [1, 2]},
        {"people": [{"email": "a@b.example"}], "dry_run": "yes"},
        {"people": [{"email": "a@b.example"}], "source": "Not A Name!"},
    ):
        problem(caller.send("POST", URL, body), 400)
    response = caller.post(URL, "{not json", content_type="application/json")
    problem(response, 400)
    settings.GATEHOUSE_IMPORT_API_MAX_ROWS = 2
    csv = "email\n" + "".join(f"p{n}@example.com\n" for n in range(3))
    assert "At most 2" in str(problem(caller.send("POST", URL, {"csv": csv}), 400)["errors"])
    settings.GATEHOUSE_IMPORT_API_MAX_BODY_BYTES = 100
    problem(caller.send("POST", URL, {"csv": csv * 10}), 413)
    assert not User.objects.filter(email__startswith="p", email__endswith="@example.com").exists()
