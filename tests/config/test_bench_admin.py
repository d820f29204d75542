"""bench/admin.py's own checks, against the real admin: the code it computes passes the second
step, it finds the deepest page the audit list links to (or follows a cursor), and a search
only counts as found when the person is in the results, not just in the search box."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.audit.helpers import series
from tests.conftest import force_login_verified
from tests.factories import UserFactory

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _bench_admin() -> ModuleType:
    """bench/admin.py as the module ``bench_admin``; bench/ is taken off the import path
    afterwards, so that its scripts (events.py, login.py...) shadow nothing later."""
    spec = importlib.util.spec_from_file_location("bench_admin", BENCH / "admin.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_admin"] = module  # dataclasses look their module up there
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = [entry for entry in sys.path if entry != str(BENCH)]
    return module


bench = _bench_admin()


def _answer(response: Any) -> Any:
    return bench.Answer(response.status_code, {}, response.content, 0.0)


@pytest.fixture
def staff_client() -> Client:
    client = Client()
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    return client


def test_the_bench_computes_the_code_an_authenticator_app_shows():
    device = TOTPDevice.objects.create(user=UserFactory(), name="Bench phone", confirmed=True)

    code = bench.totp(device.key, device.step, device.digits)

    assert device.verify_token(code)
    assert not device.verify_token(bench.totp(device.key, device.step, device.digits, at=0))


def test_the_deep_audit_page_is_reached_by_the_admins_cursor_links(staff_client):
    series(None, 120)  # three pages of 50
    first = staff_client.get(bench.AUDIT).content.decode()

    second_path = bench.next_by_cursor(bench.AUDIT, first)
    assert second_path is not None
    assert "?after=" in second_path
    second = staff_client.get(second_path)
    assert second.status_code == 200
    assert bench.RESULTS in second.content.decode()
    third_path = bench.next_by_cursor(bench.AUDIT, second.content.decode())
    assert third_path is not None
    assert third_path != second_path


def test_a_next_link_with_a_cursor_is_followed_rather_than_numbers():
    page = (
        '<p class="paginator"><a href="?p=2">2</a> '
        '<a rel="next" href="?cursor=abc&amp;o=-1">Next</a></p>'
    )

    assert bench.next_by_cursor(bench.AUDIT, page) == f"{bench.AUDIT}?cursor=abc&o=-1"
    assert bench.next_by_cursor(bench.AUDIT, '<a rel="next" href="?p=2">Next</a>') is None


def test_a_search_counts_only_when_the_person_is_in_the_results(staff_client):
    person = UserFactory(email="findme@example.com")
    found = staff_client.get(bench.USERS, {"q": "findme@example.com"})
    missed = staff_client.get(bench.USERS, {"q": "nobody@example.com"})
    change = f"{bench.USERS}{person.pk}/change/"

    assert bench.expect_ok(_answer(found), "user_search", listed=change)
    assert "nobody@example.com" in missed.content.decode()  # the search box repeats it
    with pytest.raises(bench.WrongAnswer):
        bench.expect_ok(_answer(missed), "user_search", listed="nobody@example.com")
