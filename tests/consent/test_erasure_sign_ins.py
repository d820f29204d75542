"""Erasure deletes a person's sign-in risk rows and known devices (accounts/takeover/)."""

from __future__ import annotations

from accounts.models import KnownSign, SignInRisk, User
from consent.models import DataSubjectRequest
from tests.consent.world import accept_required, signed_in
from tests.factories import UserFactory


def test_erasure_deletes_sign_ins_and_known_devices(published, settings):
    settings.GATEHOUSE_ERASURE_GRACE_DAYS = 0
    pat = UserFactory(email="pat@person.example")
    accept_required(pat)
    client = signed_in(pat, REMOTE_ADDR="192.0.2.10")
    assert SignInRisk.objects.filter(user=pat).exists()
    assert KnownSign.objects.filter(user=pat).exists()

    client.post("/account/privacy/delete/", {"confirm": "delete"})

    assert DataSubjectRequest.objects.get(user=pat, kind="erasure").status == "completed"
    assert User.objects.get(pk=pat.pk).erased_at is not None
    assert not SignInRisk.objects.filter(user=pat).exists()
    assert not KnownSign.objects.filter(user=pat).exists()
