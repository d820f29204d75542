"""Progressive profiling's answers are the person's data: in their export, gone with their
erasure, and readable by the operator's backends through the users API."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import ProfileAnswer, User
from accounts.profiling.models import ProfileField
from accounts.profiling.services import save_answers
from consent import tasks
from consent.erasure.schedule import request_erasure
from consent.export.archive import build_zip
from consent.models import DataSubjectRequest
from organizations import services as org_services
from tests.accounts.profiling_helpers import field
from tests.api.oauth_world import backend
from tests.consent.world import accept_required, signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pat(published):
    user = UserFactory(email="pat@person.example")
    accept_required(user)
    return user


@pytest.fixture
def answered(pat):
    fields = [
        field("mobile", "phone", ask_when=ProfileField.When.SCOPE),
        field("company", "company"),
        field("newsletter", "yes_no"),
    ]
    save_answers(
        user=pat,
        fields=fields,
        values={"mobile": "+442079460000", "company": "Pat & Co"},
        skip_blank=True,
    )
    return fields


def test_export_holds_the_answers_and_the_skips(pat, answered):
    with zipfile.ZipFile(io.BytesIO(build_zip(pat))) as archive:
        profile = json.loads(archive.read("profile.json"))

    assert profile == [
        {"field": "company", "label": "Company", "value": "Pat & Co", "skipped": False},
        {"field": "mobile", "label": "Mobile", "value": "+442079460000", "skipped": False},
        {"field": "newsletter", "label": "Newsletter", "value": "", "skipped": True},
    ]


def test_export_of_someone_else_leaves_the_answers_out(pat, answered):
    other = UserFactory()
    with zipfile.ZipFile(io.BytesIO(build_zip(other))) as archive:
        text = b"".join(archive.read(name) for name in archive.namelist())
    assert b"+442079460000" not in text
    assert b"Pat & Co" not in text


def test_erasure_deletes_the_answers(pat, answered):
    other = UserFactory()
    save_answers(user=other, fields=answered[1:2], values={"company": "Other"}, skip_blank=True)
    request_erasure(user=pat)
    DataSubjectRequest.objects.filter(user=pat, kind="erasure").update(
        scheduled_for=timezone.now() - timedelta(minutes=1)
    )

    assert tasks.run_due_erasures() == 1

    assert User.objects.get(pk=pat.pk).erased_at is not None
    assert not ProfileAnswer.objects.filter(user=pat).exists()
    assert ProfileAnswer.objects.filter(user=other).count() == 1, "only theirs"


def test_users_api_reads_the_answers(pat, answered):
    caller = backend(scopes=["users:read"]).caller()

    response = caller.get(f"/api/v1/users/{pat.public_id}/profile/")

    assert response.status_code == 200
    rows = {row["key"]: row for row in response.json()}
    assert rows["mobile"]["value"] == "+442079460000"
    assert rows["company"]["value"] == "Pat & Co"
    assert rows["newsletter"]["skipped"] is True
    assert rows["newsletter"]["value"] == ""
    missing = caller.get("/api/v1/users/00000000-0000-0000-0000-000000000000/profile/")
    assert missing.status_code == 404


def test_users_api_profile_is_not_for_the_person_strangers_or_other_orgs(pat, answered):
    assert signed_in(pat).get(f"/api/v1/users/{pat.public_id}/profile/").status_code == 403
    assert Client().get(f"/api/v1/users/{pat.public_id}/profile/").status_code in (401, 403)
    org = org_services.create_organization(actor=UserFactory(), name="Acme", slug="acme")
    bound = backend(scopes=["users:read"], organization=org).caller()
    assert bound.get(f"/api/v1/users/{pat.public_id}/profile/").status_code == 404
