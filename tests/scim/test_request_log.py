"""The request log behind the SCIM tab keeps each directory's last 1,000 requests: the beat job
prunes the older ones in batches, directory by directory, and never touches another's."""

from __future__ import annotations

import inspect
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from sso.scim.models import Directory, ScimRequest
from sso.scim.tasks import prune_scim_requests
from tests.scim.admins import ScimAdmins


@pytest.fixture
def world(db) -> ScimAdmins:
    return ScimAdmins()


def requests_for(directory: Directory, count: int) -> list[int]:
    """``count`` requests, one a second, oldest first; their ids in that order."""
    start = timezone.now() - timedelta(hours=1)
    rows = ScimRequest.objects.bulk_create(
        ScimRequest(directory=directory, at=start + timedelta(seconds=i), method="GET", status=200)
        for i in range(count)
    )
    return [r.pk for r in rows]


def test_each_directory_keeps_its_newest_requests(world):
    big = Directory.objects.create(organization=world.a, status="active")
    small = Directory.objects.create(organization=world.b, status="active")
    big_ids = requests_for(big, 25)
    small_ids = requests_for(small, 8)

    deleted = prune_scim_requests(keep=10, batch_size=4, max_batches=100)

    assert deleted == 15
    assert sorted(ScimRequest.objects.filter(directory=big).values_list("pk", flat=True)) == sorted(
        big_ids[-10:]
    )
    assert ScimRequest.objects.filter(directory=small).count() == 8
    # Run again: nothing more to do.
    assert prune_scim_requests(keep=10, batch_size=4, max_batches=100) == 0
    assert set(small_ids) == set(
        ScimRequest.objects.filter(directory=small).values_list("pk", flat=True)
    )


def test_a_run_stops_after_its_batches_and_the_next_one_finishes(world):
    directory = Directory.objects.create(organization=world.a, status="active")
    ids = requests_for(directory, 30)

    assert prune_scim_requests(keep=5, batch_size=5, max_batches=2) == 10
    assert ScimRequest.objects.filter(directory=directory).count() == 20
    assert prune_scim_requests(keep=5, batch_size=5, max_batches=10) == 15
    assert sorted(ScimRequest.objects.values_list("pk", flat=True)) == sorted(ids[-5:])


def test_the_job_runs_from_beat_by_default_keeping_a_thousand():
    entry = settings.CELERY_BEAT_SCHEDULE["prune-scim-requests"]
    assert entry["task"] == prune_scim_requests.name
    assert "sso.scim.tasks" in settings.CELERY_IMPORTS
    keep = inspect.signature(prune_scim_requests.run).parameters["keep"]
    assert keep.default == 1000
