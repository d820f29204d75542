"""The re-acceptance gate: once a version that asks for it is published, people who accepted
an earlier one can do nothing but accept (or sign out), at whatever URL they try, until they
do; a minor version interrupts nobody; MFA enrollment comes first without a loop."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from audit.models import AuditEvent
from consent import services
from consent.middleware import ALLOWED_URL_NAMES, PRIVACY_RIGHTS_URL_NAMES
from consent.models import Purpose
from organizations import services as org_services
from tests.consent.conftest import publish
from tests.factories import DEFAULT_PASSWORD, UserFactory

ACCEPT = "/account/privacy/accept/"


@pytest.fixture
def accepted(published):
    """Someone who accepted the first terms and privacy policy, signed in."""
    person = UserFactory(email="ada@example.com")
    for key in ("terms", "privacy"):
        services.record_consent(
            user=person,
            purpose=Purpose.objects.get(key=key, organization__isnull=True),
            decision="granted",
            method="signup",
        )
    client = Client(HTTP_USER_AGENT="pytest-browser/1.0")
    response = client.post(
        "/accounts/login/", {"login": person.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    return person, client


def all_url_paths() -> list[tuple[str, str]]:
    """Every route Gatehouse serves, as (name, a concrete path with dummy parameters)."""
    found: list[tuple[str, str]] = []
    dummies = {
        "int": "1",
        "str": "x",
        "slug": "acme",
        "uuid": "00000000-0000-0000-0000-000000000000",
        "path": "x",
    }

    def walk(patterns, prefix: str, namespace: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern):
                route = prefix + str(p.pattern)
                if route.startswith("^") or "(?P" in route:
                    continue  # regex routes (the admin's catch-alls)
                import re

                path = re.sub(
                    r"<(?:(\w+):)?\w+>", lambda m: dummies.get(m.group(1) or "str", "x"), route
                )
                found.append((f"{namespace}{p.name or ''}", "/" + path))

    walk(get_resolver().url_patterns, "", "")
    return found


def test_after_a_reacceptance_version_every_page_sends_the_person_to_accept(accepted):
    _, client = accepted
    publish("terms", reaccept=True, summary="New arbitration clause.")
    gated, passed = [], []
    for name, path in all_url_paths():
        if name in ALLOWED_URL_NAMES or name in PRIVACY_RIGHTS_URL_NAMES:
            continue
        if path.startswith("/static/"):
            continue
        response = client.get(path)
        if response.status_code in (302, 303) and response["Location"].startswith(ACCEPT):
            gated.append(path)
        elif path.startswith("/api/") and response.status_code == 403:
            assert response["Content-Type"] == "application/problem+json"
            assert response.json()["type"].endswith("/consent-required")
            gated.append(path)
        else:
            passed.append((path, response.status_code))
    # Only the person's own consent API and anonymous-only or public machinery get through;
    # SCIM is a directory's, by its token: a person's session is refused there outright.
    assert all(
        p.startswith(("/api/v1/me/consent", "/privacy/policies/", "/consent/"))
        or (p.startswith("/scim/") and code == 401)
        or code in (404, 405)
        for p, code in passed
    ), passed
    assert "/account/" in gated
    assert "/account/security/" in gated
    assert "/orgs/" in gated
    assert "/account/email/" in gated
    assert "/account/sessions/" in gated
    assert "/admin/" in gated or any(p.startswith("/admin/") for p in gated)


def test_a_post_is_sent_to_accept_without_being_replayed(accepted):
    _, client = accepted
    publish("privacy", reaccept=True)
    response = client.post("/account/", {"display_name": "Changed"})
    assert response.status_code == 302
    assert response["Location"] == ACCEPT
    from accounts.models import User

    assert User.objects.get(email="ada@example.com").display_name != "Changed"


def test_accepting_lets_the_person_carry_on_where_they_were_going(accepted):
    person, client = accepted
    new_terms = publish("terms", reaccept=True, summary="New arbitration clause.")
    gate = client.get("/account/sessions/")
    assert gate["Location"] == f"{ACCEPT}?next=%2Faccount%2Fsessions%2F"
    page = client.get(gate["Location"])
    assert page.status_code == 200
    assert b"New arbitration clause." in page.content
    terms = Purpose.objects.get(key="terms", organization__isnull=True)

    refused = client.post(ACCEPT, {"next": "/account/sessions/"})
    assert refused.status_code == 400
    assert client.get("/account/").status_code == 302

    done = client.post(
        ACCEPT,
        {
            "next": "/account/sessions/",
            f"accept_{terms.public_id}": "on",
            f"version_{terms.public_id}": new_terms.pk,
        },
    )
    assert done.status_code == 302
    assert done["Location"] == "/account/sessions/"
    assert client.get("/account/").status_code == 200
    event = person.consent_events.get(version=new_terms)
    assert event.method == "reconsent"
    assert event.decision == "granted"
    assert AuditEvent.objects.filter(action="consent.reconsent_required", actor=person).count() == 1


def test_next_cannot_lead_off_site(accepted):
    _, client = accepted
    publish("terms", reaccept=True)
    terms = Purpose.objects.get(key="terms", organization__isnull=True)
    version = terms.current_version()
    assert version is not None
    response = client.post(
        ACCEPT,
        {
            "next": "https://evil.example/steal",
            f"accept_{terms.public_id}": "on",
            f"version_{terms.public_id}": version.pk,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/account/"


def test_signing_out_is_always_possible(accepted):
    _, client = accepted
    publish("terms", reaccept=True)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_minor_version_interrupts_nobody(accepted):
    _, client = accepted
    publish("terms", reaccept=False)
    assert client.get("/account/").status_code == 200


def test_someone_who_never_accepted_is_asked_once_a_first_version_exists(purposes):
    person = UserFactory()
    client = Client()
    client.force_login(person)
    assert client.get("/account/").status_code == 200  # nothing published: nobody is gated
    publish("terms")
    assert client.get("/account/")["Location"].startswith(ACCEPT)


def test_mfa_enrollment_comes_first_and_the_gates_do_not_loop(accepted):
    person, client = accepted
    person.mfa_required = True
    person.save(update_fields=["mfa_required"])
    publish("terms", reaccept=True)
    first = client.get("/account/")
    assert first["Location"].startswith("/account/security/")
    security = client.get(first["Location"])
    assert security.status_code == 200  # the MFA page passes the consent gate while enrolling
    # Once the person has a factor, the security pages are gated like any other.
    person.mfa_required = False
    person.save(update_fields=["mfa_required"])
    assert client.get("/account/security/")["Location"].startswith(ACCEPT)


def test_an_organizations_required_purpose_gates_its_members_only(purposes):
    member, outsider = UserFactory(), UserFactory()
    org = org_services.create_organization(actor=member, name="Acme", slug="acme")
    from consent.models import PolicyDocument

    doc = PolicyDocument.objects.create(organization=org, key="acme-dpa", title="Acme DPA")
    Purpose.objects.create(
        organization=org, key="acme-dpa", name="Acme DPA", required=True, document=doc
    )
    publish(doc)
    for person, gated in ((member, True), (outsider, False)):
        client = Client()
        client.force_login(person)
        response = client.get("/account/")
        assert (response.status_code == 302) is gated


def test_the_gate_costs_one_query(accepted, django_assert_num_queries):
    from django.test import RequestFactory

    from consent.middleware import ConsentRequiredMiddleware

    person, _ = accepted
    request = RequestFactory().get("/account/")
    request.user = person
    from django.urls import resolve

    request.resolver_match = resolve("/account/")
    middleware = ConsentRequiredMiddleware(lambda r: HttpResponse())
    with django_assert_num_queries(1):
        assert middleware.process_view(request, None, (), {}) is None


def test_privacy_rights_stay_open_while_the_gate_holds(accepted, purposes):
    person, client = accepted
    services.record_consent(
        user=person, purpose=purposes["marketing_email"], decision="granted", method="signup"
    )
    publish("terms", reaccept=True)
    assert client.get("/account/").status_code == 302
    page = client.get("/account/privacy/")
    assert page.status_code == 200
    assert b"Review and accept" in page.content
    withdrawn = client.post(
        "/account/privacy/decide/",
        {"purpose": str(purposes["marketing_email"].public_id), "decision": "withdrawn"},
    )
    assert withdrawn.status_code == 302
    assert withdrawn["Location"] == "/account/privacy/"
    assert not person.consent_states.get(purpose=purposes["marketing_email"]).granted
    asked = client.post("/account/privacy/export/")
    assert asked.status_code == 302
    assert person.data_requests.filter(kind="export").exists()


def test_a_version_published_while_the_page_was_open_is_not_taken_as_accepted(accepted):
    person, client = accepted
    shown = publish("terms", reaccept=True)
    terms = Purpose.objects.get(key="terms", organization__isnull=True)
    page = client.get(ACCEPT)
    assert f'name="version_{terms.public_id}" value="{shown.pk}"'.encode() in page.content
    newer = publish("terms", reaccept=True, summary="Changed again.")

    stale = client.post(
        ACCEPT, {f"accept_{terms.public_id}": "on", f"version_{terms.public_id}": shown.pk}
    )
    assert stale.status_code == 409
    assert b"Changed again." in stale.content
    assert not person.consent_events.filter(version__in=[shown, newer]).exists()
    missing = client.post(ACCEPT, {f"accept_{terms.public_id}": "on"})
    assert missing.status_code == 409
    done = client.post(
        ACCEPT, {f"accept_{terms.public_id}": "on", f"version_{terms.public_id}": newer.pk}
    )
    assert done.status_code == 302
    assert person.consent_events.get(version=newer).method == "reconsent"
