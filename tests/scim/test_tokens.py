"""A directory's bearer tokens: the right one authenticates, anything else is refused the same
way; a rotation keeps the old token working for the overlap the admin chose and no longer;
revocation is immediate; the token is returned once and only its keyed digest is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from config.refusals import NotFound, Refusal
from sso.scim import directories, tokens
from sso.scim.models import Directory, DirectoryToken
from tests.scim.admins import ScimAdmins, events


@pytest.fixture
def world(db) -> ScimAdmins:
    return ScimAdmins()


@pytest.fixture
def first(world) -> directories.IssuedToken:
    done = directories.turn_on(actor=world.a_admin_membership, org=world.a)
    assert done.issued is not None
    return done.issued


def bearer(token: str) -> tokens.Caller | None:
    return tokens.authenticate(f"Bearer {token}")


def test_the_right_token_names_its_directory_and_records_its_use(world, first):
    caller = bearer(first.token)

    assert caller is not None
    assert caller.directory.organization_id == world.a.pk
    assert caller.token.pk == first.row.pk
    assert DirectoryToken.objects.get(pk=first.row.pk).last_used_at is not None


def test_anything_but_a_usable_token_is_refused(world, first):
    prefix, secret = tokens.split(first.token) or ("", "")
    other = directories.turn_on(actor=world.b_admin_membership, org=world.b).issued
    assert other is not None
    _, other_secret = tokens.split(other.token) or ("", "")

    for header in (
        # The secret with its last character changed.
        f"Bearer gh_scim_{prefix}_{secret[:-1]}{'y' if secret.endswith('x') else 'x'}",
        f"Bearer gh_scim_{prefix}_{other_secret}",  # another directory's secret, our prefix
        f"Bearer gh_scim_{'z' * 12}_{secret}",  # unknown prefix
        f"Bearer {first.token[:-3]}",  # cut short
        f"Basic {first.token}",  # not a bearer token
        f"Bearer {first.row.digest}",  # the stored digest is no token
        "Bearer ",
        "",
    ):
        assert tokens.authenticate(header) is None, header
    assert bearer(first.token) is not None


def test_a_revoked_token_is_refused_at_once(world, first):
    directories.revoke_token(actor=world.a_admin_membership, org=world.a, token_id=first.row.pk)

    assert bearer(first.token) is None
    row = DirectoryToken.objects.get(pk=first.row.pk)
    assert row.revoked_at is not None
    (event,) = events("scim.token_revoked", world.a)
    assert event.actor == world.a_admin
    assert event.data["prefix"] == first.row.prefix
    # Revoking again is harmless and records nothing more.
    directories.revoke_token(actor=world.a_admin_membership, org=world.a, token_id=first.row.pk)
    assert len(events("scim.token_revoked", world.a)) == 1


def test_a_directory_that_is_off_has_every_token_refused(world, first):
    directories.turn_off(actor=world.a_admin_membership, org=world.a)
    assert bearer(first.token) is None


def test_rotation_keeps_the_old_token_until_the_overlap_ends_and_then_refuses_it(world, first):
    before = timezone.now()
    new = directories.issue_token(
        actor=world.a_admin_membership, org=world.a, overlap=timedelta(hours=24)
    )

    old = DirectoryToken.objects.get(pk=first.row.pk)
    assert old.expires_at is not None
    assert before + timedelta(hours=24) <= old.expires_at <= timezone.now() + timedelta(hours=24)
    assert DirectoryToken.objects.get(pk=new.row.pk).expires_at is None
    # During the overlap both work.
    assert bearer(first.token) is not None
    assert bearer(new.token) is not None
    # Once the overlap is over (moved to just past), only the new one does.
    DirectoryToken.objects.filter(pk=old.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert bearer(first.token) is None
    assert bearer(new.token) is not None

    (event,) = events("scim.token_rotated", world.a)
    assert event.actor == world.a_admin
    assert event.data["prefix"] == new.row.prefix
    assert event.data["replaced"] == [first.row.prefix]
    assert event.data["overlap_hours"] == 24


def test_rotation_with_no_overlap_ends_the_old_token_now(world, first):
    new = directories.issue_token(actor=world.a_admin_membership, org=world.a, overlap=timedelta(0))
    assert bearer(first.token) is None
    assert bearer(new.token) is not None


def test_rotation_never_lengthens_a_token_that_ends_sooner(world, first):
    directories.issue_token(actor=world.a_admin_membership, org=world.a, overlap=timedelta(hours=1))
    ends = DirectoryToken.objects.get(pk=first.row.pk).expires_at
    directories.issue_token(actor=world.a_admin_membership, org=world.a, overlap=timedelta(days=7))
    assert DirectoryToken.objects.get(pk=first.row.pk).expires_at == ends


@pytest.mark.parametrize("overlap", [timedelta(days=7, seconds=1), timedelta(seconds=-1)])
def test_an_overlap_beyond_seven_days_or_negative_is_refused(world, first, overlap):
    with pytest.raises(Refusal, match="0 to 7 days"):
        directories.issue_token(actor=world.a_admin_membership, org=world.a, overlap=overlap)
    assert DirectoryToken.objects.count() == 1
    assert DirectoryToken.objects.get(pk=first.row.pk).expires_at is None


def test_working_tokens_are_capped(world, first):
    for _ in range(directories.MAX_USABLE_TOKENS - 1):
        directories.issue_token(
            actor=world.a_admin_membership, org=world.a, overlap=timedelta(days=7)
        )
    with pytest.raises(Refusal, match="already has"):
        directories.issue_token(
            actor=world.a_admin_membership, org=world.a, overlap=timedelta(days=7)
        )
    assert DirectoryToken.objects.count() == directories.MAX_USABLE_TOKENS


def test_the_token_is_stored_only_as_a_keyed_digest(world, first):
    _, secret = tokens.split(first.token) or ("", "")
    row = DirectoryToken.objects.get(pk=first.row.pk)
    stored = " ".join(
        str(value) for value in DirectoryToken.objects.filter(pk=row.pk).values().get().values()
    )

    assert len(secret) >= 40
    assert secret not in stored
    assert first.token not in stored
    assert row.digest
    assert row.digest != secret
    # Nor is it in any audit event.
    assert not any(first.token in str(e.data) for e in AuditEvent.objects.all())
    assert not any(secret in str(e.data) for e in AuditEvent.objects.all())


def test_another_organizations_admin_cannot_revoke_a_token(world, first):
    directories.turn_on(actor=world.b_admin_membership, org=world.b)
    with pytest.raises(NotFound):
        directories.revoke_token(actor=world.b_admin_membership, org=world.b, token_id=first.row.pk)
    assert bearer(first.token) is not None
    assert Directory.objects.get(organization=world.a).status == "active"
