"""A due reset of second factors, applied by a real Celery worker, once; its emails over SMTP."""

from __future__ import annotations

import time

import pytest
from allauth.account.models import EmailAddress
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa.services import recovery
from accounts.models import MFAReset
from accounts.tasks import apply_due_mfa_resets
from audit.models import AuditEvent
from tests.accounts.mfa_helpers import enroll_totp
from tests.factories import UserFactory

DEADLINE_SECONDS = 60


def wait_until(condition) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)
    assert condition()


def _schedule_due_reset(email: str) -> MFAReset:
    person = UserFactory(email=email)
    enroll_totp(person)
    boss = UserFactory(is_staff=True, is_superuser=True)
    return recovery.schedule_mfa_reset(
        user=person, actor=boss, via=MFAReset.Via.SUPPORT, reason="ticket 9: lost phone"
    )


def _status(reset: MFAReset) -> str:
    return MFAReset.objects.get(pk=reset.pk).status


@pytest.mark.services
def test_a_real_worker_applies_a_due_reset_once_and_mails_every_verified_address(
    celery_worker, settings
):
    inbox = celery_worker
    settings.GATEHOUSE_MFA_RESET_WAIT_HOURS = 0  # due as soon as it is scheduled
    first = _schedule_due_reset("lee@example.com")
    EmailAddress.objects.create(user=first.user, email="lee@work.example", verified=True)
    EmailAddress.objects.create(user=first.user, email="lee@typo.example", verified=False)

    apply_due_mfa_resets.delay()

    wait_until(lambda: _status(first) == MFAReset.Status.APPLIED)
    assert not TOTPDevice.objects.filter(user=first.user).exists()
    # The scheduled notice went to the one address there was then; the applied one to both
    # verified addresses, never to the unverified one.
    wait_until(lambda: len(inbox.messages) == 3)
    received = sorted((m["To"], str(m["Subject"])) for m in inbox.messages)
    assert [to for to, _ in received] == ["lee@example.com", "lee@example.com", "lee@work.example"]
    assert sum("was reset" in subject for _, subject in received) == 2

    # Run the job again through the worker, then a second due reset behind it on the same
    # one-at-a-time queue: once that one is applied, the repeat has run, and it did nothing.
    apply_due_mfa_resets.delay()
    marker = _schedule_due_reset("kim@example.com")
    apply_due_mfa_resets.delay()
    wait_until(lambda: _status(marker) == MFAReset.Status.APPLIED)
    events = AuditEvent.objects.filter(action="mfa.reset")
    assert sorted(e.target_id for e in events) == sorted([str(first.user_id), str(marker.user_id)])
