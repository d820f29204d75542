"""Policy versions: publishing fixes and hashes the text; a published version never changes,
in the ORM and (on PostgreSQL) in the database itself; the public copy re-hashes to the
stored hash; drafts are nobody's business but the operator's."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client

from audit.models import AuditEvent
from config.refusals import Refusal
from consent import services
from consent.models import PolicyDocument, PolicyVersion, PublishedVersionIsImmutable
from tests.conftest import require
from tests.consent.conftest import publish


def test_publishing_hashes_the_text_with_lf_line_endings(purposes, staff):
    version = publish("terms", "Zoë\u2019s terms\r\nline two\r\n", actor=staff)
    assert version.content == "Zoë\u2019s terms\nline two\n"
    assert version.content_sha256 == hashlib.sha256(version.content.encode()).hexdigest()
    assert version.published_at is not None
    event = AuditEvent.objects.get(action="consent.policy_published")
    assert event.actor == staff
    assert event.data["content_sha256"] == version.content_sha256


def test_the_public_text_rehashes_to_the_stored_hash(purposes):
    version = publish("privacy", "Privacy — naïve café\nsecond line")
    response = Client().get(f"/privacy/policies/{version.document_id}/{version.pk}.txt")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert hashlib.sha256(response.content).hexdigest() == version.content_sha256
    page = Client().get(f"/privacy/policies/{version.document_id}/{version.pk}/")
    assert page.status_code == 200
    assert version.content_sha256.encode() in page.content


def test_drafts_are_not_public_and_stay_editable(purposes):
    doc = PolicyDocument.objects.get(key="terms", organization__isnull=True)
    draft = PolicyVersion.objects.create(document=doc, label="draft", content="not yet")
    assert Client().get(f"/privacy/policies/{doc.pk}/{draft.pk}/").status_code == 404
    assert Client().get(f"/privacy/policies/{doc.pk}/{draft.pk}.txt").status_code == 404
    draft.content = "still not"
    draft.save()
    assert PolicyVersion.objects.get(pk=draft.pk).content == "still not"
    draft.delete()
    assert not PolicyVersion.objects.filter(pk=draft.pk).exists()


def test_a_published_version_refuses_changes_and_deletion_in_the_orm(purposes):
    version = publish("terms", "fixed")
    version.content = "changed"
    with pytest.raises(PublishedVersionIsImmutable):
        version.save()
    with pytest.raises(PublishedVersionIsImmutable):
        PolicyVersion.objects.filter(pk=version.pk).update(content="changed")
    with pytest.raises(PublishedVersionIsImmutable):
        version.delete()
    with pytest.raises(PublishedVersionIsImmutable):
        PolicyVersion.objects.filter(pk=version.pk).delete()
    assert PolicyVersion.objects.get(pk=version.pk).content == "fixed"


def test_publishing_twice_or_without_text_is_refused(purposes):
    version = publish("terms", "once")
    with pytest.raises(Refusal):
        services.publish_version(version=version, actor=None)
    doc = version.document
    empty = PolicyVersion.objects.create(document=doc, label="empty", content="  \n")
    with pytest.raises(Refusal):
        services.publish_version(version=empty, actor=None)
    assert PolicyVersion.objects.get(pk=empty.pk).published_at is None


def test_the_first_version_and_reacceptance_versions_bind_minor_ones_do_not(purposes):
    terms = purposes["terms"]
    first = publish("terms")
    terms.refresh_from_db()
    assert terms.binding_version == first
    minor = publish("terms", reaccept=False)
    terms.refresh_from_db()
    assert terms.binding_version == first
    assert terms.current_version() == minor
    major = publish("terms", reaccept=True)
    terms.refresh_from_db()
    assert terms.binding_version == major
    assert terms.binding_published_at == major.published_at


def _raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_postgresql_itself_refuses_changes_to_published_versions(purposes):
    require(connection.vendor == "postgresql", "PostgreSQL triggers")
    version = publish("terms", "fixed")
    for sql in (
        "UPDATE consent_policyversion SET content = 'changed' WHERE id = %s",
        "UPDATE consent_policyversion SET published_at = NULL WHERE id = %s",
        "DELETE FROM consent_policyversion WHERE id = %s",
    ):
        with pytest.raises(DatabaseError):
            _raw(sql, [version.pk])
    assert PolicyVersion.objects.get(pk=version.pk).content == "fixed"


def test_postgresql_refuses_a_hash_that_does_not_match_the_text(purposes):
    require(connection.vendor == "postgresql", "PostgreSQL triggers")
    doc = PolicyDocument.objects.get(key="terms", organization__isnull=True)
    draft = PolicyVersion.objects.create(document=doc, label="sneaky", content="real text")
    with pytest.raises(DatabaseError):
        _raw(
            "UPDATE consent_policyversion SET published_at = now(), content_sha256 = %s "
            "WHERE id = %s",
            [hashlib.sha256(b"other text").hexdigest(), draft.pk],
        )
    # The same with the right hash goes through: the check is on the hash, not on publishing.
    _raw(
        "UPDATE consent_policyversion SET published_at = now(), content_sha256 = %s WHERE id = %s",
        [hashlib.sha256(b"real text").hexdigest(), draft.pk],
    )
    assert PolicyVersion.objects.get(pk=draft.pk).is_published


def test_a_purpose_added_to_an_already_published_document_is_bound_at_once(purposes):
    from consent.models import Purpose

    first = publish("terms")
    publish("terms", reaccept=False)
    major = publish("terms", reaccept=True)
    publish("terms", reaccept=False)
    late = Purpose.objects.create(key="terms-eu", name="EU terms", required=True)
    assert late.binding_version is None
    late.document = first.document
    late.save()
    late.refresh_from_db()
    assert late.binding_version == major
    assert late.binding_published_at == major.published_at
    first_only = PolicyDocument.objects.create(key="dpa", title="DPA")
    v1 = publish(first_only)
    bound = Purpose.objects.create(key="dpa", name="DPA", required=True, document=first_only)
    assert bound.binding_version == v1
