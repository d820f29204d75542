"""A connection is read once per process and kept while its version in the shared cache holds
(sso.connection_cache): every write that changes what a sign-in decides is seen by the very
next sign-in, in this process and in every other; a kept connection never admits someone the
database would refuse."""

from __future__ import annotations

import secrets

import pytest
from django.core.cache import cache
from django.db import connection as db
from django.db import transaction
from django.test.utils import CaptureQueriesContext

from organizations.models import Domain
from organizations.services import remove_domain, update_policy
from sso import connection_cache, services
from sso.adapter import connection_by_slug
from sso.certificates import read_certificate
from sso.models import Connection, IdPCertificate
from tests.sso.conftest import (
    assert_refused,
    browser,
    configure_accounts,
    saml_connection,
    saml_login,
    saml_post,
    saml_start,
    session_user,
)

# The connection, its certificates and its verified domains.
CONFIGURATION_READS = (
    'SELECT "sso_connection"."id"',
    'SELECT "sso_idpcertificate"."id"',
    'SELECT "organizations_domain"."name"',
)


def signed_in(connection: Connection, saml_idp, user: str, **params: str) -> bool:
    client = browser()
    response = saml_login(client, saml_idp, connection, user=user, **params)
    assert response.status_code in (302, 403, 404, 409), response.content[:500]
    return session_user(client) is not None


def configuration_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].startswith(CONFIGURATION_READS)]


@pytest.fixture
def warm(saml_idp, acme_org) -> Connection:
    """A connection this process has already signed someone in through (so it keeps it)."""
    connection = saml_connection(acme_org, saml_idp)
    assert signed_in(connection, saml_idp, "ada@acme.test")
    return connection


def test_the_configuration_is_read_once_then_kept(warm, saml_idp):
    with CaptureQueriesContext(db) as queries:
        assert signed_in(warm, saml_idp, "ada@acme.test")

    assert configuration_reads(queries) == []


def test_a_connection_turned_off_refuses_the_next_sign_in(warm, saml_idp, acme_org):
    client = browser()
    answer = saml_idp.answer(saml_start(client, warm), user="ada@acme.test")
    services.disable(actor=acme_org.admin, org=acme_org.org, connection_id=warm.pk)

    response = saml_post(client, answer)

    assert response.status_code == 404
    assert session_user(client) is None


def test_a_removed_certificate_signs_nothing_from_the_next_sign_in(saml_idp, acme_org):
    connection = saml_connection(acme_org, saml_idp)
    services.import_metadata(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=connection.pk,
        xml=saml_idp.metadata(certs="idp,idp2"),
    )
    assert signed_in(connection, saml_idp, "ada@acme.test", key="idp2")
    second = IdPCertificate.objects.get(
        connection=connection, der_base64=read_certificate(saml_idp.cert("idp2")).der_base64
    )

    services.remove_certificate(
        actor=acme_org.admin,
        org=acme_org.org,
        connection_id=connection.pk,
        certificate_id=second.pk,
    )

    client = browser()
    refused = saml_login(client, saml_idp, connection, user="ada@acme.test", key="idp2")
    assert_refused(client, refused, connection, "invalid_signature")


def test_a_domain_taken_off_the_connection_refuses_new_people_at_once(warm, saml_idp, acme_org):
    configure_accounts(acme_org, warm, domain_ids=[])

    client = browser()
    refused = saml_login(client, saml_idp, warm, user="bob@acme.test")
    assert_refused(client, refused, warm, "email_domain")


def test_a_domain_no_longer_verified_refuses_new_people_at_once(warm, saml_idp, acme_org):
    domain = Domain.objects.get(organization=acme_org.org, name="acme.test")
    domain.verified_at = None
    domain.save(update_fields=["verified_at"])

    client = browser()
    refused = saml_login(client, saml_idp, warm, user="bob@acme.test")
    assert_refused(client, refused, warm, "email_domain")


def test_new_accounts_turned_off_refuses_new_people_at_once(warm, saml_idp, acme_org):
    configure_accounts(acme_org, warm, jit_enabled=False)

    client = browser()
    refused = saml_login(client, saml_idp, warm, user="bob@acme.test")
    assert_refused(client, refused, warm, "jit_disabled")


def test_the_organizations_sign_in_rules_are_read_at_every_sign_in(warm, saml_idp, acme_org):
    update_policy(actor=acme_org.admin, org=acme_org.org, allowed_login_methods=["password"])

    client = browser()
    refused = saml_login(client, saml_idp, warm, user="ada@acme.test")
    assert_refused(client, refused, warm, "sign_in_policy")


def test_a_write_in_another_process_is_seen_through_the_shared_version(warm, saml_idp, acme_org):
    # Another process's write changes only the version in the shared cache: this process's
    # entry is put back as it was before the write.
    client = browser()
    answer = saml_idp.answer(saml_start(client, warm), user="ada@acme.test")
    kept = dict(connection_cache._entries)
    services.disable(actor=acme_org.admin, org=acme_org.org, connection_id=warm.pk)
    connection_cache._entries.update(kept)
    assert connection_cache._entries[warm.slug].connection.is_active

    response = saml_post(client, answer)

    assert response.status_code == 404
    assert session_user(client) is None


def test_a_lost_version_is_never_taken_for_the_kept_one(warm):
    cache.delete(connection_cache._key(warm.slug))  # evicted, say
    connection_by_slug(warm.slug)  # read, not kept; a version is started for the next read
    connection_by_slug(warm.slug)  # kept, tagged with that version
    assert warm.slug in connection_cache._entries
    cache.delete(connection_cache._key(warm.slug))  # evicted again
    Connection.objects.filter(pk=warm.pk).update(name="Renamed")  # no signal: unseen write

    assert connection_by_slug(warm.slug).name == "Renamed"  # type: ignore[union-attr]


def test_a_slug_that_names_no_connection_leaves_nothing_in_the_shared_cache(sso_env):
    """Anyone can put a slug in a URL: unknown ones must not fill the shared cache."""
    client = browser()
    slugs = [secrets.token_hex(100) for _ in range(5)]
    for slug in slugs:
        client.get(f"/accounts/saml/{slug}/metadata/")
        client.post(f"/accounts/oidc/{slug}/login/")

    assert [slug for slug in slugs if cache.get(connection_cache._key(slug)) is not None] == []


def test_a_removed_domain_refuses_new_people_at_once(warm, saml_idp, acme_org):
    domain = Domain.objects.get(organization=acme_org.org, name="acme.test")
    remove_domain(actor=acme_org.admin, org=acme_org.org, domain_id=domain.pk)

    client = browser()
    refused = saml_login(client, saml_idp, warm, user="bob@acme.test")
    assert_refused(client, refused, warm, "email_domain")


def test_a_domain_unlinked_from_its_own_side_refuses_new_people_at_once(warm, saml_idp, acme_org):
    domain = Domain.objects.get(organization=acme_org.org, name="acme.test")
    domain.sso_connections.remove(warm)

    client = browser()
    refused = saml_login(client, saml_idp, warm, user="bob@acme.test")
    assert_refused(client, refused, warm, "email_domain")


def test_the_version_changes_again_when_the_write_commits(warm, acme_org, monkeypatch):
    """A sign-in in another process may read the rows between the write's first version and
    its commit: the second version, set once the write commits, makes it read them again."""
    key, versions = connection_cache._key(warm.slug), []
    set_many = connection_cache.cache.set_many

    def spy(mapping, *args, **kwargs):
        versions.append(mapping.get(key))
        return set_many(mapping, *args, **kwargs)

    monkeypatch.setattr(connection_cache.cache, "set_many", spy)
    services.disable(actor=acme_org.admin, org=acme_org.org, connection_id=warm.pk)

    assert len(versions) == 2, "once at the write, once after its commit"
    assert None not in versions
    assert versions[0] != versions[1]
    assert cache.get(key) == versions[1]


def test_a_kept_connection_is_read_again_after_max_age(warm, monkeypatch):
    Connection.objects.filter(pk=warm.pk).update(name="Renamed")  # no signal: unseen write
    assert connection_by_slug(warm.slug).name != "Renamed"  # type: ignore[union-attr]

    monkeypatch.setattr(connection_cache, "MAX_AGE", 0)

    assert connection_by_slug(warm.slug).name == "Renamed"  # type: ignore[union-attr]


def test_nothing_is_kept_while_the_shared_cache_does_not_answer(warm, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(connection_cache.cache, "get", down)
    with CaptureQueriesContext(db) as queries:
        connection_by_slug(warm.slug)
        connection_by_slug(warm.slug)

    assert len(configuration_reads(queries)) == 2 * len(CONFIGURATION_READS)


def test_a_write_fails_when_the_shared_cache_cannot_record_it(warm, acme_org, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(connection_cache.cache, "set_many", down)
    with pytest.raises(ConnectionError):
        services.disable(actor=acme_org.admin, org=acme_org.org, connection_id=warm.pk)

    warm.refresh_from_db()
    assert warm.is_active


def test_rows_read_inside_a_write_are_not_kept(warm):
    connection_cache.clear()
    with transaction.atomic():
        connection_by_slug(warm.slug)

    assert warm.slug not in connection_cache._entries
    connection_by_slug(warm.slug)
    assert warm.slug in connection_cache._entries
