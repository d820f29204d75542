"""Verified domains: a TXT record on a real DNS server on loopback proves ownership."""

from __future__ import annotations

import json

import pytest
from allauth.account.models import EmailAddress
from django.http import HttpResponse

from audit.models import AuditEvent
from organizations import services
from organizations.models import Domain, Membership
from organizations.tasks import recheck_verified_domains
from tests.factories import UserFactory
from tests.organizations.conftest import signed_in


def add(client, slug: str, name: str):
    return client.post(
        f"/api/v1/organizations/{slug}/domains/",
        json.dumps({"name": name}),
        content_type="application/json",
    )


def verify(client, slug: str, domain_id: int):
    return client.post(f"/api/v1/organizations/{slug}/domains/{domain_id}/verify/")


def test_a_domain_is_verified_by_its_txt_record_and_lost_when_it_goes(world, dns_server):
    client = signed_in(world.a_admin)
    created = add(client, "acme", "Acme-Corp.EXAMPLE.")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "acme-corp.example"
    assert body["txt_record_name"] == "_gatehouse-challenge.acme-corp.example"

    # No record yet.
    response = verify(client, "acme", body["id"])
    assert response.status_code == 200
    assert response.json()["verified"] is False
    assert "no DNS name" in response.json()["last_check_result"]
    assert AuditEvent.objects.filter(action="org.domain_check_failed").exists()

    # A record with the wrong value does not count either.
    dns_server.zone.records[body["txt_record_name"]] = ["gatehouse-domain-verification=wrong"]
    assert verify(client, "acme", body["id"]).json()["verified"] is False

    dns_server.zone.records[body["txt_record_name"]] = ["v=spf1 -all", body["txt_record_value"]]
    response = verify(client, "acme", body["id"])
    assert response.json()["verified"] is True
    event = AuditEvent.objects.get(action="org.domain_verified")
    assert event.organization_id == world.a.pk

    # The beat job re-checks: while the record is there nothing changes; once it is gone the
    # domain stops counting.
    assert recheck_verified_domains() == 1
    assert Domain.objects.get(pk=body["id"]).is_verified
    del dns_server.zone.records[body["txt_record_name"]]
    recheck_verified_domains()
    assert not Domain.objects.get(pk=body["id"]).is_verified
    assert AuditEvent.objects.filter(action="org.domain_lost", organization_id=world.a.pk).exists()


def test_a_domain_verified_by_one_organization_cannot_be_verified_by_another(world, dns_server):
    a = signed_in(world.a_admin)
    b = signed_in(world.b_admin)
    mine = add(a, "acme", "shared.example").json()
    theirs = add(b, "bolt", "shared.example").json()
    dns_server.zone.records["_gatehouse-challenge.shared.example"] = [
        mine["txt_record_value"],
        theirs["txt_record_value"],
    ]
    assert verify(a, "acme", mine["id"]).json()["verified"] is True

    response = verify(b, "bolt", theirs["id"])

    assert response.status_code == 200
    assert response.json()["verified"] is False
    assert response.json()["last_check_result"] == "verified by another organization"
    assert not Domain.objects.get(pk=theirs["id"]).is_verified
    refused = AuditEvent.objects.get(action="org.domain_check_failed", organization_id=world.b.pk)
    assert refused.data["detail"] == "verified by another organization"
    # And it cannot even be added again once verified elsewhere.
    assert add(b, "bolt", "shared.example").status_code == 409


@pytest.mark.parametrize(
    "name",
    [
        "",
        "localhost",
        "not a domain",
        "-bad.example",
        "a" * 300 + ".example",
        "exa mple.com",
        "http://example.com",
        "example",
        "ex..ample.com",
        "\x00.example",
        "1.2.3.4",
    ],
)
def test_malformed_domains_are_refused_clearly(world, name):
    client = signed_in(world.a_admin)
    response = add(client, "acme", name)
    assert response.status_code == 400, (name, response.content)
    assert response["Content-Type"] == "application/problem+json"
    assert not Domain.objects.exists()


def test_auto_join_counts_only_verified_emails_in_verified_domains(world, dns_server, settings):
    domain = services.add_domain(
        actor=world.membership(world.a, world.a_owner), org=world.a, name="joiners.example"
    )
    dns_server.zone.records[domain.record_name] = [domain.record_value]
    services.verify_domain(
        actor=world.membership(world.a, world.a_owner), org=world.a, domain_id=domain.pk
    )
    services.update_policy(
        actor=world.membership(world.a, world.a_owner),
        org=world.a,
        auto_join_verified_domains=True,
        default_role="member",
    )
    verified = UserFactory(email="verified@joiners.example")
    unverified = UserFactory(email="unverified@joiners.example", verified=False)
    other = UserFactory(email="someone@elsewhere.example")
    # An unverified second address in the domain does not count either.
    EmailAddress.objects.create(user=other, email="sneaky@joiners.example", verified=False)

    signed_in(verified)
    signed_in(other)
    assert Membership.objects.filter(organization=world.a, user=verified, source="domain").exists()
    assert not Membership.objects.filter(user=other, organization=world.a).exists()
    assert services.auto_join_by_domain(user=unverified) == []
    # Verifying the address (through allauth's confirmation) joins.
    address = EmailAddress.objects.get(user=unverified)
    from allauth.account.models import EmailConfirmationHMAC
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    from django.contrib.messages.middleware import MessageMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    MessageMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = unverified
    EmailConfirmationHMAC(address).confirm(request)
    assert Membership.objects.filter(organization=world.a, user=unverified).exists()


def test_auto_join_is_off_by_default_and_removal_is_not_undone_by_a_login(world, dns_server):
    owner = world.membership(world.a, world.a_owner)
    domain = services.add_domain(actor=owner, org=world.a, name="people.example")
    dns_server.zone.records[domain.record_name] = [domain.record_value]
    services.verify_domain(actor=owner, org=world.a, domain_id=domain.pk)
    person = UserFactory(email="p@people.example")
    signed_in(person)
    assert not Membership.objects.filter(user=person).exists()

    services.update_policy(actor=owner, org=world.a, auto_join_verified_domains=True)
    signed_in(person)
    membership = Membership.objects.get(user=person, organization=world.a)
    services.remove_member(actor=owner, org=world.a, member_id=membership.pk)
    signed_in(person)
    membership.refresh_from_db()
    assert not membership.is_active
