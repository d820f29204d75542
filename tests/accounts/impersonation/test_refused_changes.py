"""While impersonating, what stays the person's own is refused, each page and endpoint of it,
and the refusal is on record; the rest of the account is seen as the person sees it."""

from __future__ import annotations

import json

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import check_password
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from consent.models import DataSubjectRequest
from tests.accounts.impersonation.helpers import begin, make_staff, staff_browser
from tests.factories import DEFAULT_PASSWORD, UserFactory

NEW_PASSWORD = "a-very-new-Passw0rd-for-pat"

# (method, path, body, what the refusal names)
REFUSED = [
    ("GET", "/account/password/", None, "the password"),
    (
        "POST",
        "/account/password/",
        {"oldpassword": DEFAULT_PASSWORD, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        "the password",
    ),
    ("POST", "/accounts/password/change/", {"password1": NEW_PASSWORD}, "the password"),
    ("POST", "/account/password/set/", {"password1": NEW_PASSWORD}, "the password"),
    ("POST", "/accounts/password/reset/", {"email": "pat@example.com"}, "the password"),
    ("GET", "/account/security/", None, "second factors"),
    ("POST", "/account/security/totp/", {"code": "123456", "name": "Mine"}, "second factors"),
    ("POST", "/account/security/backup-codes/", {}, "second factors"),
    ("POST", "/account/security/email/", {}, "second factors"),
    ("POST", "/accounts/2fa/lost/", {}, "second factors"),
    ("POST", "/webauthn/registration/begin/", {}, "second factors"),
    ("GET", "/accounts/3rdparty/", None, "linked sign-ins"),
    ("GET", "/account/email/", None, "email addresses"),
    ("POST", "/account/email/", {"action_add": "", "email": "new@example.com"}, "email addresses"),
    ("POST", "/accounts/email/", {"action_add": "", "email": "new@example.com"}, "email addresses"),
    ("POST", "/account/privacy/decide/", {"purpose": "newsletter"}, "consents"),
    ("POST", "/account/privacy/accept/", {}, "consents"),
    ("GET", "/account/privacy/delete/", None, "erasure"),
    ("POST", "/account/privacy/delete/", {"confirm": "on"}, "erasure"),
    ("POST", "/account/privacy/export/", {}, "the person's data"),
]

API_REFUSED = [
    ("POST", "/api/v1/me/consents/", {"purpose": "newsletter", "granted": False}, "consents"),
    ("POST", "/api/v1/me/erasure/", {}, "erasure"),
    ("GET", "/api/v1/me/erasure/", None, "erasure"),
]


@pytest.fixture
def person():
    return UserFactory(email="pat@example.com")


@pytest.fixture
def impersonating(person):
    browser = staff_browser(make_staff())
    begin(browser, person)
    return browser


def _send(browser, method, path, body):
    if method == "GET":
        return browser.get(path)
    return browser.post(path, body or {})


@pytest.mark.parametrize(
    ("method", "path", "body", "area"), REFUSED, ids=[r[1] + r[0] for r in REFUSED]
)
def test_each_sensitive_page_is_refused_with_the_banner(
    impersonating, person, method, path, body, area
):
    response = _send(impersonating, method, path, body)

    assert response.status_code == 403
    html = response.content.decode()
    assert f"Support cannot change {area}" in html.replace("&#x27;", "'")
    assert 'id="impersonation-banner"' in html
    event = AuditEvent.objects.get(action="impersonation.action_refused", data__path=path)
    assert event.outcome == "failure"
    assert event.data["method"] == method
    assert event.target_id == str(person.pk)
    # Nothing changed.
    person.refresh_from_db()
    assert check_password(DEFAULT_PASSWORD, person.password)
    assert list(EmailAddress.objects.filter(user=person).values_list("email", flat=True)) == [
        "pat@example.com"
    ]
    assert not TOTPDevice.objects.filter(user=person).exists()
    assert not DataSubjectRequest.objects.filter(user=person).exists()


@pytest.mark.parametrize(
    ("method", "path", "body", "area"), API_REFUSED, ids=[r[1] + r[0] for r in API_REFUSED]
)
def test_the_me_api_refuses_changes_with_a_problem(impersonating, person, method, path, body, area):
    if method == "GET":
        response = impersonating.get(path)
    else:
        response = impersonating.post(path, json.dumps(body), content_type="application/json")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert area in response.json()["detail"]
    assert not DataSubjectRequest.objects.filter(user=person).exists()


def test_reading_the_privacy_page_and_profile_is_allowed(impersonating):
    assert impersonating.get("/account/privacy/").status_code == 200
    assert impersonating.get("/account/").status_code == 200
    assert impersonating.get("/api/v1/me/consents/").status_code == 200
    assert not AuditEvent.objects.filter(action="impersonation.action_refused").exists()


def test_the_person_themselves_can_still_open_those_pages(person):
    from tests.organizations.conftest import signed_in

    own = signed_in(person)
    assert own.get("/account/privacy/delete/").status_code == 200
    assert own.get("/account/email/").status_code in (200, 302)
