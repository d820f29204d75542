"""What an import (accounts/imports/) and support's impersonations (accounts/impersonation/)
keep about a person: the import's ids are exported, and erasure deletes both."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from django.utils import timezone

from accounts.models import ApprovalLink, Impersonation, ImportedIdentity, User
from consent.export.archive import build_zip
from consent.models import DataSubjectRequest
from tests.consent.world import accept_required, signed_in
from tests.factories import UserFactory


def _impersonation(staff: User, person: User) -> Impersonation:
    return Impersonation.objects.create(
        staff=staff,
        person=person,
        reason="Ticket 12: cannot see invoices",
        minutes=15,
        status=Impersonation.Status.ENDED,
        requested_at=timezone.now(),
    )


def test_the_export_names_the_systems_they_were_moved_in_from(published):
    pat = UserFactory(email="pat@person.example")
    ImportedIdentity.objects.create(user=pat, source="auth0", external_id="auth0|4711")
    ImportedIdentity.objects.create(user=UserFactory(), source="auth0", external_id="auth0|9")

    with zipfile.ZipFile(io.BytesIO(build_zip(pat))) as archive:
        rows = json.loads(archive.read("imported_identities.json"))

    assert [(r["source"], r["external_id"]) for r in rows] == [("auth0", "auth0|4711")]


def test_erasure_deletes_their_imported_ids_impersonations_and_approval_links(published, settings):
    settings.GATEHOUSE_ERASURE_GRACE_DAYS = 0
    pat = UserFactory(email="pat@person.example")
    accept_required(pat)
    staff = UserFactory(email="support@gatehouse.test", is_staff=True)
    other = UserFactory(email="other@person.example")
    ImportedIdentity.objects.create(user=pat, source="auth0", external_id="auth0|4711")
    theirs = _impersonation(staff, pat)
    someone_elses = _impersonation(staff, other)
    # Pat was asked to approve support's session with someone else (as that person's org admin).
    link = ApprovalLink.objects.create(
        impersonation=someone_elses,
        token_digest=hashlib.sha256(b"token").hexdigest(),
        approver=pat,
    )

    signed_in(pat).post("/account/privacy/delete/", {"confirm": "delete"})

    assert DataSubjectRequest.objects.get(user=pat, kind="erasure").status == "completed"
    assert User.objects.get(pk=pat.pk).erased_at is not None
    assert not ImportedIdentity.objects.filter(user=pat).exists()
    assert not Impersonation.objects.filter(pk=theirs.pk).exists()
    assert not ApprovalLink.objects.filter(pk=link.pk).exists()
    # What is about other people stays.
    assert Impersonation.objects.filter(pk=someone_elses.pk).exists()
