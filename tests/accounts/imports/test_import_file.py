"""Importing a file: bad rows are reported with their line and field while the rest are
written, a second run updates and never duplicates, a dry run writes nothing, the command
prints progress, and the run is audited."""

from __future__ import annotations

import io

import pytest
from allauth.account.models import EmailAddress
from django.core.management import CommandError, call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.imports.models import ImportedIdentity
from accounts.imports.rows import read_csv, read_jsonl, text_lines
from accounts.imports.services import import_people
from accounts.models import User
from audit.models import AuditEvent
from organizations import services as org_services
from organizations.models import Membership
from tests.accounts.imports.helpers import GATEHOUSE_HASH, run, sign_in, signed_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

BCRYPT_OF_SECRET = "$2b$04$f./XXv7Urb5bPDnRC.0YAe.pYuvh1tCdpZFL5XK5A56OziLFtCuUK"  # "secret"


@pytest.fixture
def acme():
    owner = UserFactory(email="owner@acme.example")
    return org_services.create_organization(actor=owner, name="Acme", slug="acme")


def people(**changes: object) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {
            "external_id": "auth0|1",
            "email": "ada@example.com",
            "email_verified": True,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "organizations": [{"slug": "acme", "role": "admin"}],
        },
        {"external_id": "auth0|2", "email": "grace@example.com", "display_name": "Grace"},
    ]
    rows[0].update(changes)
    return rows


def test_bad_rows_are_reported_by_line_and_field_and_the_rest_imported(acme):
    lines = [
        '{"email": "one@example.com", "email_verified": true}\n',
        "not json at all\n",
        '{"email": "two@example.com", "organizations": [{"slug": "nowhere"}]}\n',
        "\n",
        '{"email": "three@example.com", "email_verified": "yes"}\n',
        '{"email": "four@example.com", "totp_secret": "!!!"}\n',
        '{"email": "five@example.com", "organizations": [{"slug": "acme", "role": "boss"}]}\n',
        '{"email": "six@example.com"}\n',
    ]
    report = import_people(read_jsonl(lines), actor=None, source="test")
    assert (report.created, report.refused) == (2, 5)
    # In the file's order, each with its line and field.
    assert [(e.line, e.field) for e in report.errors] == [
        (2, ""),
        (3, "organizations"),
        (5, "email_verified"),
        (6, "totp_secret"),
        (7, "organizations[0].role"),
    ]
    assert "nowhere" in next(e.reason for e in report.errors if e.line == 3)
    emails = set(
        User.objects.filter(email__endswith="@example.com").values_list("email", flat=True)
    )
    assert emails == {"one@example.com", "six@example.com"}
    # The refused row with an organization left nothing behind: no account, no address.
    assert not EmailAddress.objects.filter(email="two@example.com").exists()


def test_csv_with_its_line_numbers(acme):
    text = (
        "email,email_verified,display_name,organizations,password_format,password_hash\n"
        f"ada@example.com,true,Ada,acme:member,bcrypt,{BCRYPT_OF_SECRET}\n"
        "broken,true,,,,\n"
        "grace@example.com,maybe,,,,\n"
        "bob@example.com,,Bob,,,\n"
    )
    report = import_people(read_csv(text_lines(text)), actor=None, source="test")
    assert report.created == 2
    assert sorted((e.line, e.field) for e in report.errors) == [
        (3, "email"),
        (4, "email_verified"),
    ]
    ada = User.objects.get(email="ada@example.com")
    assert ada.display_name == "Ada"
    assert ada.password == f"bcrypt${BCRYPT_OF_SECRET}"
    assert Membership.objects.get(user=ada, organization=acme).role == "member"


def test_a_csv_with_unknown_columns_is_refused_whole():
    report = import_people(
        read_csv(text_lines("email,shoe_size\na@b.example,9\n")), actor=None, source="t"
    )
    [error] = report.errors
    assert error.line == 1
    assert "shoe_size" in error.reason
    assert not User.objects.filter(email="a@b.example").exists()


def test_running_twice_changes_nothing_the_second_time(acme):
    first = run(people())
    assert (first.created, first.updated, first.unchanged) == (2, 0, 0)
    counts = (User.objects.count(), EmailAddress.objects.count(), Membership.objects.count())
    second = run(people())
    assert (second.created, second.updated, second.unchanged, second.refused) == (0, 0, 2, 0)
    assert (
        User.objects.count(),
        EmailAddress.objects.count(),
        Membership.objects.count(),
    ) == counts
    ada = User.objects.get(email="ada@example.com")
    assert ada.display_name == "Ada Lovelace"
    assert Membership.objects.get(user=ada, organization=acme).role == "admin"
    assert ImportedIdentity.objects.get(user=ada).external_id == "auth0|1"


def test_a_second_run_applies_what_changed(acme):
    run(people(email_verified=False))
    report = run(
        people(
            email_verified=True,
            display_name="Countess Lovelace",
            organizations=[{"slug": "acme", "role": "member"}],
            emails=[{"email": "ada@work.example", "verified": True}],
        )
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    ada = User.objects.get(email="ada@example.com")
    assert ada.display_name == "Countess Lovelace"
    assert EmailAddress.objects.get(email="ada@example.com").verified
    assert EmailAddress.objects.get(email="ada@work.example").user == ada
    assert Membership.objects.get(user=ada, organization=acme).role == "member"
    event = AuditEvent.objects.get(action="user.import_updated")
    assert "display_name" in event.data["changed"]


def test_found_again_by_address_when_the_file_has_no_ids():
    run([{"email": "ada@example.com", "display_name": "A"}])
    report = run([{"email": "ADA@example.com", "display_name": "B"}])
    assert report.updated == 1
    assert User.objects.filter(email="ada@example.com").get().display_name == "B"


def test_an_address_of_another_account_refuses_the_row():
    run(people())
    report = run([{"external_id": "auth0|2", "email": "ada@example.com"}])
    [error] = report.errors
    assert error.field == "email"


def test_a_password_changed_in_gatehouse_is_not_overwritten_by_a_new_run():
    row = {
        "email": "ada@example.com",
        "email_verified": True,
        "password": {"format": "bcrypt", "hash": BCRYPT_OF_SECRET},
    }
    run([row])
    client, _ = sign_in("ada@example.com", "secret")
    assert signed_in(client)
    rehashed = User.objects.get(email="ada@example.com").password
    assert rehashed.startswith(GATEHOUSE_HASH)
    report = run([row])
    assert report.unchanged == 1
    assert User.objects.get(email="ada@example.com").password == rehashed


def test_an_existing_gatehouse_account_keeps_its_password():
    person = UserFactory(email="native@example.com")
    before = person.password
    report = run(
        [
            {
                "email": "native@example.com",
                "password": {"format": "bcrypt", "hash": BCRYPT_OF_SECRET},
            }
        ]
    )
    assert report.updated == 1  # linked to the import, nothing else
    assert User.objects.get(pk=person.pk).password == before
    client, _ = sign_in("native@example.com", DEFAULT_PASSWORD)
    assert signed_in(client)


def test_a_totp_secret_becomes_a_working_authenticator():
    secret = "JBSWY3DPEHPK3PXPJBSWY3DP"
    run([{"email": "ada@example.com", "email_verified": True, "totp_secret": secret}])
    run([{"email": "ada@example.com", "email_verified": True, "totp_secret": secret}])
    [device] = TOTPDevice.objects.filter(user__email="ada@example.com")
    assert device.confirmed
    assert device.verify_token(f"{totp(device.bin_key):06d}")


def test_a_dry_run_writes_nothing_and_says_what_would_happen(acme):
    before = (User.objects.count(), AuditEvent.objects.count(), Membership.objects.count())
    report = run([*people(), {"email": "broken"}], dry_run=True)
    assert (report.created, report.refused) == (2, 1)
    [ada] = [row for row in report.rows if row.email == "ada@example.com"]
    assert ada.outcome == "created"
    assert "joined acme as admin" in ada.changes
    assert report.errors[0].line == 3
    assert (User.objects.count(), AuditEvent.objects.count(), Membership.objects.count()) == before


def test_the_run_is_audited_once_with_its_counts_and_each_new_person(acme):
    run([*people(), {"email": "broken"}])
    [summary] = AuditEvent.objects.filter(action="users.import_run")
    assert summary.data["created"] == 2
    assert summary.data["refused"] == 1
    assert summary.actor_text == "import"
    created = AuditEvent.objects.filter(action="user.imported")
    new_people = User.objects.filter(email__in=["ada@example.com", "grace@example.com"])
    assert sorted(e.target_id for e in created) == sorted(str(u.pk) for u in new_people)
    joined = AuditEvent.objects.get(
        action="org.member_joined", organization_id=acme.pk, data__source="import"
    )
    assert joined.data["role"] == "admin"


def test_the_command_prints_progress_and_fails_when_rows_are_refused(tmp_path):
    path = tmp_path / "people.jsonl"
    lines = [f'{{"email": "p{n}@example.com", "email_verified": true}}' for n in range(25)]
    path.write_text("\n".join([*lines, '{"email": 5}']) + "\n")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command(
            "import_users",
            str(path),
            "--source",
            "auth0",
            "--progress-every",
            "10",
            stdout=out,
            stderr=err,
        )
    assert "1 rows refused" in str(failure.value)
    assert "10 rows" in err.getvalue()
    assert "20 rows" in err.getvalue()
    assert "line 26: refused: email: Missing." in out.getvalue()
    assert "created 25" in out.getvalue()
    assert User.objects.filter(email__startswith="p", email__endswith="@example.com").count() == 25


def test_the_command_dry_run_writes_nothing(tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("email,email_verified\nada@example.com,true\n")
    out = io.StringIO()
    call_command("import_users", str(path), "--dry-run", stdout=out)
    assert "Dry run, nothing written: would have created 1" in out.getvalue()
    assert "line 2 ada@example.com: created" in out.getvalue()
    assert not User.objects.filter(email="ada@example.com").exists()
