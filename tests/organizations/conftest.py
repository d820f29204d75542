from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connections
from django.test import Client

from organizations import services
from organizations.models import Membership
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.organizations.dns_server import LoopbackDNS


@pytest.fixture
def dns_server(settings):
    server = LoopbackDNS().start()
    settings.GATEHOUSE_DNS_NAMESERVERS = [server.address]
    settings.GATEHOUSE_DNS_TIMEOUT = 3
    try:
        yield server
    finally:
        server.stop()


def signed_in(user) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302, response.content[:300]
    return client


class OrgWorld:
    """Two organizations, each with an owner, an admin and a member.

    The people have fixed names: isolation tests look for B's name ("Bolt") in what A is
    shown, and a generated name such as "Bolton" among A's people would look like a leak."""

    def __init__(self) -> None:
        self.a_owner = UserFactory(email="owner@a.example", display_name="Ada Lovelace")
        self.a_admin = UserFactory(email="admin@a.example", display_name="Alan Turing")
        self.a_member = UserFactory(email="member@a.example", display_name="Anita Borg")
        self.b_owner = UserFactory(email="owner@b.example", display_name="Barbara Liskov")
        self.b_admin = UserFactory(email="admin@b.example", display_name="Butler Lampson")
        self.b_member = UserFactory(email="member@b.example", display_name="Brian Kernighan")
        self.a = services.create_organization(actor=self.a_owner, name="Acme", slug="acme")
        self.b = services.create_organization(actor=self.b_owner, name="Bolt", slug="bolt")
        for org, admin, member in (
            (self.a, self.a_admin, self.a_member),
            (self.b, self.b_admin, self.b_member),
        ):
            Membership.objects.create(organization=org, user=admin, role="admin", source="admin")
            Membership.objects.create(organization=org, user=member, role="member", source="admin")

    def membership(self, org, user) -> Membership:
        return Membership.objects.get(organization=org, user=user)


@pytest.fixture
def world() -> OrgWorld:
    return OrgWorld()


def at_once(calls: list[Callable[[], object]]) -> list[Exception | None]:
    """Run ``calls`` in threads released together; what each raised, or None."""
    barrier = threading.Barrier(len(calls))
    errors: list[Exception | None] = [None] * len(calls)

    def run(i):
        try:
            barrier.wait()
            calls[i]()
        except Exception as exc:  # noqa: BLE001 - what a call raised is what the test judges
            errors[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
