"""Login by a one-time code sent by email."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from audit.models import AuditEvent


def request_code(client: Client, email: str):
    return client.post("/accounts/login/code/", {"email": email})


def code_from(message) -> str:
    match = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b", message.body)
    assert match, message.body
    return match.group(1)


def test_emailed_code_signs_in(client, user):
    assert request_code(client, user.email)["Location"] == "/accounts/login/code/confirm/"
    [message] = mail.outbox

    response = client.post("/accounts/login/code/confirm/", {"code": code_from(message)})

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)
    event = AuditEvent.objects.get(action="login.succeeded")
    assert event.data["method"] == "code"


def test_wrong_code_is_refused_and_audited(client, user):
    request_code(client, user.email)
    real = code_from(mail.outbox[0])
    wrong = "ZZZZ-ZZZZ" if real != "ZZZZ-ZZZZ" else "YYYY-YYYY"

    response = client.post("/accounts/login/code/confirm/", {"code": wrong})

    assert response.status_code == 200
    assert response.context["form"].errors
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(action="login.code_rejected", outcome="failure").exists()


def test_code_stops_working_after_too_many_wrong_tries(client, user):
    request_code(client, user.email)
    real = code_from(mail.outbox[0])
    for _ in range(3):
        client.post("/accounts/login/code/confirm/", {"code": "AAAA-0000"})

    response = client.post("/accounts/login/code/confirm/", {"code": real})

    assert "_auth_user_id" not in client.session
    assert response.status_code in (200, 302)


def test_code_requests_are_rate_limited_per_email(user):
    for _ in range(3):
        assert request_code(Client(), user.email).status_code == 302

    response = request_code(Client(), user.email)

    assert response.status_code == 200
    assert "Too many" in str(response.context["form"].errors)
    assert len(mail.outbox) == 3


def test_garbage_code_input_is_a_form_error(client, user):
    request_code(client, user.email)
    for code in ("", "x" * 10_000, "<script>"):
        response = client.post("/accounts/login/code/confirm/", {"code": code})
        assert response.status_code in (200, 302)
        assert "_auth_user_id" not in client.session


def test_confirm_page_without_a_pending_code_is_not_an_error(client):
    response = client.post("/accounts/login/code/confirm/", {"code": "ABCDEF"})
    assert response.status_code in (302, 200)
    assert "_auth_user_id" not in client.session


def test_overlong_address_is_a_form_error_not_a_stored_email():
    from accounts.models import OutboundEmail

    long_address = "a" * 250 + "@example.com"
    for path in ("/accounts/login/code/", "/accounts/password/reset/"):
        response = Client().post(path, {"email": long_address})
        assert response.status_code == 200
        assert "email" in response.context["form"].errors
    assert OutboundEmail.objects.count() == 0


def test_blocked_user_cannot_get_in_with_an_emailed_code(client, user):
    from accounts import services
    from tests.factories import UserFactory

    services.block_user(user=user, actor=UserFactory(is_staff=True), reason="fraud")
    request_code(client, user.email)
    [message] = [m for m in mail.outbox if m.to == [user.email]]

    response = client.post("/accounts/login/code/confirm/", {"code": code_from(message)})

    assert response.status_code == 403
    assert b"This account is blocked" in response.content
    assert "_auth_user_id" not in client.session
