"""The production email path end to end: request → Redis → a real Celery worker → SMTP."""

from __future__ import annotations

import time

import pytest

from accounts.models import OutboundEmail

DELIVERY_DEADLINE_SECONDS = 60


@pytest.mark.services
def test_signup_email_is_delivered_by_a_real_worker_over_smtp(client, celery_worker):
    inbox = celery_worker

    response = client.post(
        "/accounts/signup/", {"email": "ada@example.com", "password1": "violet-Anchor-quarry-81"}
    )
    assert response.status_code == 302

    # The worker hands the message to SMTP, then commits the row as sent: wait for both.
    deadline = time.monotonic() + DELIVERY_DEADLINE_SECONDS
    while time.monotonic() < deadline and not (
        inbox.messages
        and OutboundEmail.objects.filter(
            to="ada@example.com", status=OutboundEmail.Status.SENT
        ).exists()
    ):
        time.sleep(0.2)

    [received] = inbox.messages
    assert received["To"] == "ada@example.com"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "/accounts/confirm-email/" in text
    assert "/accounts/confirm-email/" in html
    outbound = OutboundEmail.objects.get(to="ada@example.com")
    assert outbound.status == OutboundEmail.Status.SENT
    assert outbound.text_body == ""
