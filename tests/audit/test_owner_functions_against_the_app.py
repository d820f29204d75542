"""What a review of audit migrations 0026 and 0027 found the application role could still do
through the owner's functions and the guards on the chain's tables (docs/events.md, "Left, and
what a review found", item 9), each tried here as an attacker holding the application's
connection would: every statement runs as the application role (DATABASE_URL), on a test
database the owner role migrated (audit/db_roles.py). Needs the two roles (CI has them).

Fixed by audit migration 0028:
* an erasure's subject record could claim any audit target as the person's (another user, an
  organization, someone else's membership), and the erase function then replaced any text of
  those events with the pseudonym and left a mark the verifier accepted;
* the erase function cut the address and dropped the browser of any anonymous event (a NULL
  comparison let it through), even one that did not quote the person;
* retention's cut passed over positions that have no seal, which it therefore never checked.

Fixed by audit migration 0030 (both were proved here by strict xfails first):
* the application role could call the purge function with any cutoff at least 28 days old,
  whatever the organization's retention (even "for ever"), and nothing showed it: the function
  now writes retention's ``audit.purged`` record itself, and refuses an organization that keeps
  its log for ever;
* a quote as long as its column could lose its tail to the pseudonym, address or not: a cut is
  now taken only where erasure's whole rewrite was longer than the column.
"""

from __future__ import annotations

import importlib
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit import db_roles
from audit.chain import checkpoints
from audit.chain.models import AuditErasureMark, AuditSalt, ErasureSubject
from audit.chain.verify import verify
from audit.models import AuditChain, AuditCheckpoint, AuditEvent, AuditSeal
from audit.services import record_erasure_subject
from consent.erasure.identifiers import collect, owned_target_models
from consent.models import DataSubjectRequest
from organizations.models import OrganizationPolicy
from tests.audit.chain.helpers import seal_in_test_transaction, sign_as_of
from tests.audit.helpers import dated, erasure_under_way, event, series
from tests.conftest import require
from tests.organizations.conftest import OrgWorld

PSEUDONYM = "erased-00c0ffee00aa"
# An erasure the attacker starts, of Brian (Bolt's member): the application role may start
# anyone's (docs/events.md, "Erasure"), though one person has one open erasure at a time.
FORGED = "erased-0000000000f1"
REFUSED_TARGET = "is not a thing of the person erased"


def _days_ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def world() -> dict[str, Any]:
    """Acme and Bolt, set up long ago; Pat, an Acme member whose erasure is under way; Brian,
    Bolt's member, whose erasure the attacker will start; and four sealed events of Acme's
    that are not about Pat: Ada's change to the organization, Ada blocking Alan, an anonymous
    failed sign-in, and a change with a long description."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    require(db_roles.roles_are_split(), "DATABASE_OWNER_URL: an owner role apart from the app's")
    with dated(_days_ago(2000)):
        orgs = OrgWorld()
    seal_in_test_transaction()  # the set-up first, as it happened
    acme, ada, alan = orgs.a, orgs.a_owner, orgs.a_admin
    pat = orgs.a_member
    erasure_under_way(pat, PSEUDONYM)
    now = timezone.now()
    made = {
        "orgs": orgs,
        "pat": pat,
        "brian": orgs.b_member,
        "org_change": event(
            acme,
            at=now,
            action="organization.updated",
            actor=ada,
            actor_text=ada.email,
            target_type="organization",
            target_id=str(acme.pk),
            target_text="Acme",
            data={"plan": "small", "seats": 10},
        ),
        "block": event(
            acme,
            at=now,
            action="user.blocked",
            actor=ada,
            actor_text=ada.email,
            target_type="user",
            target_id=str(alan.pk),
            target_text=alan.email,
            data={"reason": "shared the admin password"},
        ),
        "anonymous": event(
            acme,
            at=now,
            action="login.failed",
            actor=None,
            actor_text="",
            ip="198.51.100.23",
            user_agent="curl/8.5",
            data={"method": "password"},
        ),
        "long": event(
            acme,
            at=now,
            action="organization.updated",
            actor=ada,
            actor_text=ada.email,
            target_type="organization",
            target_id=str(acme.pk),
            target_text="Acme " + "x" * 295 + " approved by Ada",
        ),
    }
    seal_in_test_transaction()
    return made


def _erase(pseudonym: str, changes: list[dict[str, Any]]) -> int:
    """The owner's erase function, called as the application role."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT gatehouse_erase_audit_quotes(%s, %s::jsonb)", [pseudonym, json.dumps(changes)]
        )
        return int(cursor.fetchone()[0])


def _start_erasure(user: Any, pseudonym: str, targets: list[Any]) -> None:
    """An erasure under way as the application role can write one: the request, and whom its
    pseudonym stands for with the targets it names."""
    DataSubjectRequest.objects.create(
        user=user, kind="erasure", status="erasing", pseudonym=pseudonym
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_erasuresubject (pseudonym, user_id, request_id, targets, "
            "recorded_at) VALUES (%s, %s, %s, %s::jsonb, now())",
            [pseudonym, user.pk, uuid.uuid4(), json.dumps(targets)],
        )


def _row(made: AuditEvent) -> dict[str, Any]:
    return dict(AuditEvent.objects.filter(pk=made.pk).values()[0])


# --- An erasure names only the person's own things ----------------------------------------------


def test_an_erasure_that_claims_an_organization_cannot_rewrite_its_events(world):
    """The whole attack: an erasure of Brian whose record claims Acme itself as his, then
    Ada's change to Acme with its quotes replaced by the pseudonym. Before audit migration
    0028 the record was taken, the rewrite too, the event got an erasure mark, and the chain
    still verified: a change to the organization's plan, gone without a trace."""
    acme, change = world["orgs"].a, world["org_change"]
    before = _row(change)

    attempts = (
        lambda: _start_erasure(world["brian"], FORGED, [["organization", str(acme.pk)]]),
        lambda: _erase(
            FORGED,
            [{"id": str(change.pk), "target_text": FORGED, "data": {"plan": FORGED, "seats": 10}}],
        ),
    )
    refusals = []
    for attempt in attempts:
        try:
            attempt()
        except DatabaseError as exc:
            refusals.append(str(exc))

    assert any(REFUSED_TARGET in refusal for refusal in refusals), refusals
    assert _row(change) == before
    assert AuditSalt.objects.filter(event_id=change.pk).exists()
    assert not AuditErasureMark.objects.filter(event_id=change.pk).exists()
    assert verify(acme.pk).ok


def _someone_elses_membership(world: dict[str, Any]) -> list[str]:
    orgs = world["orgs"]
    return ["membership", str(orgs.membership(orgs.a, orgs.a_admin).pk)]


FOREIGN_TARGETS = {
    "another user": lambda w: [["user", str(w["orgs"].a_admin.pk)]],
    "an organization": lambda w: [["organization", str(w["orgs"].a.pk)]],
    "someone else's membership": lambda w: [_someone_elses_membership(w)],
    "a membership that does not exist": lambda w: [["membership", "987654321"]],
    "a kind Gatehouse never records": lambda w: [["ssoconnection", "1"]],
    "not a pair": lambda w: [["user", str(w["brian"].pk), "extra"]],
    "not a list": lambda w: {"user": str(w["brian"].pk)},
}


@pytest.mark.parametrize("targets", FOREIGN_TARGETS.values(), ids=FOREIGN_TARGETS.keys())
def test_an_erasure_record_names_only_the_persons_own_things(world, targets):
    with pytest.raises(DatabaseError, match=REFUSED_TARGET):
        _start_erasure(world["brian"], FORGED, targets(world))
    assert not ErasureSubject.objects.filter(pseudonym=FORGED).exists()


def test_an_erasure_claiming_another_user_cannot_rewrite_what_was_done_to_them(world):
    """Ada blocked Alan, with a reason: an erasure of Brian that claims Alan's account is
    refused, so the reason stays."""
    block, alan = world["block"], world["orgs"].a_admin
    with pytest.raises(DatabaseError, match=REFUSED_TARGET):
        _start_erasure(world["brian"], FORGED, [["user", str(alan.pk)]])
    with pytest.raises(DatabaseError, match="no erasure is under way"):
        _erase(FORGED, [{"id": str(block.pk), "data": {"reason": FORGED}}])
    assert _row(block)["data"] == {"reason": "shared the admin password"}


def test_the_erasure_job_still_records_everything_that_is_the_persons(world):
    """What the job records (consent.erasure.identifiers): the account, its addresses, its
    memberships, its requests; the database takes it."""
    pat = world["pat"]
    targets = collect(pat).targets
    kinds = {kind for kind, _ in targets}
    assert {"user", "emailaddress", "membership", "datasubjectrequest"} <= kinds

    record_erasure_subject(
        pseudonym="erased-00000000beef", user_id=pat.pk, request_id=uuid.uuid4(), targets=targets
    )

    recorded = ErasureSubject.objects.get(pseudonym="erased-00000000beef")
    assert recorded.targets == [[kind, key] for kind, key in targets]


def test_the_kinds_the_database_knows_are_the_ones_the_job_records(world):
    """Audit migration 0028 names the tables of the person's things; a kind the job adds later
    must be added there too, or every erasure of someone who has one fails."""
    migration = importlib.import_module("audit.migrations.0028_erasure_names_only_its_person")
    recorded = {m._meta.model_name: m._meta.db_table for m in owned_target_models()}
    assert recorded == migration.PERSONS_THINGS


# --- The address and browser go only where the person acted -------------------------------------


def test_an_anonymous_events_address_stays_unless_it_quoted_the_person(world):
    """An anonymous failed sign-in that quotes nobody is not erasure's: before audit migration
    0028 a NULL comparison let the function cut its address and drop its browser (and take its
    salt) for any erasure under way."""
    anonymous = world["anonymous"]
    before = _row(anonymous)

    with pytest.raises(DatabaseError, match="only where the person acted"):
        _erase(PSEUDONYM, [{"id": str(anonymous.pk), "ip": "198.51.100.0", "user_agent": ""}])

    assert _row(anonymous) == before
    assert AuditSalt.objects.filter(event_id=anonymous.pk).exists()


def test_an_anonymous_event_that_quoted_the_persons_address_still_loses_it(world):
    pat = world["pat"]
    quoting = event(
        world["orgs"].a,
        at=timezone.now(),
        action="login.failed",
        actor=None,
        actor_text=pat.email,
        ip="203.0.113.77",
        user_agent="Pat's browser",
    )
    seal_in_test_transaction()
    erased = f"{PSEUDONYM}@erased.invalid"

    changed = _erase(
        PSEUDONYM,
        [{"id": str(quoting.pk), "actor_text": erased, "ip": "203.0.113.0", "user_agent": ""}],
    )

    assert changed == 1
    row = _row(quoting)
    assert (row["actor_text"], row["ip"], row["user_agent"]) == (erased, "203.0.113.0", "")
    assert AuditErasureMark.objects.filter(event_id=quoting.pk, pseudonym=PSEUDONYM).exists()


# --- Retention cuts only what it checked --------------------------------------------------------


def _forge_far_checkpoint(chain: int, ahead: int, signed_at) -> int:
    """What the application role may write: the chain grown by ``ahead`` positions with a head
    of its making, a seal at the far end only, and a checkpoint there dated ``signed_at``.
    Returns the far position."""
    far = AuditChain.objects.get(chain=chain).size + ahead
    head = bytes(range(32))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditchain SET size = %s, head_hash = %s WHERE chain = %s",
            [far, head, chain],
        )
        cursor.execute(
            "INSERT INTO audit_auditseal (chain, position, event_id, commitments, event_hash, "
            "chain_hash, sealed_at) VALUES (%s, %s, %s, '', '', %s, now())",
            [chain, far, uuid.uuid4(), head],
        )
    AuditCheckpoint.objects.create(
        chain=chain,
        size=far,
        head_hash=head,
        signed_at=signed_at,
        key=checkpoints.active_key(),
        note="forged",
        signature=bytes(64),
    )
    return far


def test_retention_stops_before_a_position_that_has_no_seal(world):
    """The purge checked the seals it found in a batch, then collected the events to delete
    with a second query: a position with no seal was never checked, and a seal the application
    role added there between the two queries (for an event not sealed yet: a recent one, say
    while it holds the sealer's lock) had its event deleted. Such positions exist only where
    the role grew the chain itself, as here: only old events, then a gap up to a seal and a
    checkpoint of its own dated long ago. The cut now ends at the last sealed position, with
    its hash, never in the gap; every position it covers is sealed, and a sealed position
    takes no second seal, so both queries see the same seals."""
    bolt = world["orgs"].b
    series(bolt, 3, start=_days_ago(400))
    seal_in_test_transaction()
    sealed = AuditChain.objects.get(chain=bolt.pk).size
    last_hash = bytes(AuditSeal.objects.get(chain=bolt.pk, position=sealed).chain_hash)
    _forge_far_checkpoint(bolt.pk, 50, _days_ago(400))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT gatehouse_purge_audit_events(%s, %s, 1000)", [bolt.pk, _days_ago(300)]
        )
        removed = cursor.fetchone()[0]

    chain = AuditChain.objects.get(chain=bolt.pk)
    assert (removed, chain.pruned_through) == (sealed, sealed)
    assert chain.pruned_hash is not None
    assert bytes(chain.pruned_hash) == last_hash


# --- Every purge is in the log -----------------------------------------------------------------


def _purge_as_the_app(chain: int, cutoff: Any, batch: int = 10000) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT gatehouse_purge_audit_events(%s, %s, %s)", [chain, cutoff, batch])
        return int(cursor.fetchone()[0])


def _purge_records(org: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(organization_id=org.pk, action="audit.purged"))


def _old_bolt_log(world: dict[str, Any]) -> tuple[Any, list[AuditEvent]]:
    """Bolt's log as it grows: three events 60 days ago, a checkpoint beat signed ten days
    later, a recent event and today's checkpoint. Bolt keeps its log a year (the default)."""
    bolt = world["orgs"].b
    old = series(bolt, 3, start=_days_ago(60))
    seal_in_test_transaction()
    sign_as_of(bolt.pk, _days_ago(50))
    event(bolt, at=_days_ago(1))
    seal_in_test_transaction()
    checkpoints.sign(bolt.pk)
    return bolt, old


def test_a_purge_the_application_role_asks_for_itself_is_in_the_log(world):
    """The application role calls the purge function itself with a cutoff 29 days ago, far
    shorter than Bolt's year. The function still takes it (the cut rests on genuine
    checkpoints), but it writes retention's record itself, as the owner, in the same
    transaction: the cut is in Bolt's log, sealed into its chain like any event, and
    ``verify_audit`` passes with it. Before audit migration 0030 retention's Python side wrote
    the record, and a direct call left none."""
    bolt, old = _old_bolt_log(world)
    cutoff = _days_ago(29)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        this_transaction = int(cursor.fetchone()[0])

    removed = _purge_as_the_app(bolt.pk, cutoff)

    assert removed >= len(old)
    assert not AuditEvent.objects.filter(pk__in=[e.pk for e in old]).exists()
    [purged] = _purge_records(bolt)
    assert (purged.actor_id, purged.actor_text, purged.outcome) == (None, "system", "success")
    assert purged.data == {"before": cutoff.isoformat(), "deleted": removed}
    assert (purged.target_type, purged.ip, purged.user_agent, purged.request_id) == (
        "",
        None,
        "",
        "",
    )
    assert purged.txid == this_transaction  # written with the deletion, not after it
    seal_in_test_transaction()
    assert AuditSeal.objects.get(event_id=purged.pk).chain == bolt.pk
    report = verify(bolt.pk)
    assert report.ok, report.summary()


def test_each_batch_of_a_purge_leaves_its_record(world):
    bolt, old = _old_bolt_log(world)
    cutoff = _days_ago(40)

    removed = [_purge_as_the_app(bolt.pk, cutoff, batch=2)]
    while removed[-1] and len(removed) < 20:
        removed.append(_purge_as_the_app(bolt.pk, cutoff, batch=2))

    assert removed[-1] == 0  # nothing left to cut
    assert sum(removed) >= len(old)
    assert len(removed) > 2  # in several batches
    # One record per batch that removed something; the last, which found nothing, left none.
    records = sorted(p.data["deleted"] for p in _purge_records(bolt))
    assert records == sorted(removed[:-1])


def test_the_purge_function_refuses_an_organization_that_keeps_its_log_for_ever(world):
    """Bolt keeps its log for ever: the function refuses to cut it. The application role may
    change Bolt's policy first (it writes that table), so this is no guard by itself; the
    record (above) is what shows a purge."""
    bolt, old = _old_bolt_log(world)
    OrganizationPolicy.objects.filter(organization=bolt).update(audit_retention_days=None)

    with pytest.raises(DatabaseError, match="keeps its audit log for ever"):
        _purge_as_the_app(bolt.pk, _days_ago(29))

    assert AuditEvent.objects.filter(pk__in=[e.pk for e in old]).count() == len(old)
    assert not _purge_records(bolt)
    assert AuditChain.objects.get(chain=bolt.pk).pruned_through == 0


# --- A quote cut to its column loses only what did not fit --------------------------------------


def test_a_long_quote_loses_nothing_to_an_erasure_it_does_not_concern(world):
    """Ada's change quotes no address and is not about Pat; its description is long enough to
    look cut to fit its column. Before audit migration 0030 the function took its last words
    replaced by the pseudonym."""
    long = world["long"]
    old = long.target_text
    assert len(old) == 316
    rewritten = old[: 320 - len(PSEUDONYM)] + PSEUDONYM

    with pytest.raises(DatabaseError, match="only puts the pseudonym"):
        _erase(PSEUDONYM, [{"id": str(long.pk), "target_text": rewritten}])

    assert _row(long)["target_text"] == old


ADDRESS = f"{PSEUDONYM}@erased.invalid"
TAILS = {
    "the pseudonym's address for its tail": lambda old: old[: 320 - len(ADDRESS)] + ADDRESS,
    "a cut address for its tail": lambda old: old[:295] + ADDRESS[:25],
    "an address put in its middle, the tail cut off": lambda old: (
        old[:50] + ADDRESS + old[50 : 320 - len(ADDRESS)]
    ),
}


@pytest.mark.parametrize("rewrite", TAILS.values(), ids=TAILS.keys())
def test_a_long_quote_without_an_address_at_its_end_keeps_its_tail(world, rewrite):
    long = world["long"]
    old = long.target_text
    rewritten = rewrite(old)
    assert len(rewritten) == 320

    with pytest.raises(DatabaseError, match="only puts the pseudonym"):
        _erase(PSEUDONYM, [{"id": str(long.pk), "target_text": rewritten}])

    assert _row(long)["target_text"] == old


def test_erasure_still_cuts_a_long_quote_of_an_address_to_fit(world):
    """What the erasure job writes when the pseudonym's address, longer than the address it
    replaces, pushes a quote past its column (consent.erasure.quotes._fit): the database
    takes it wherever the address sits, whether the cut falls in text after it, inside the
    address, or (when the first 320 characters hold no whole pseudonym) before it, the
    pseudonym then taking the place of the last characters."""
    from consent.erasure.quotes import _fit  # noqa: PLC2701  (the job's own cut, on purpose)

    acme, quoted_address = world["orgs"].a, "pat@acme.test"
    shapes = set()
    for after in (0, 1, 4, 9):
        suffix = (" " + "y" * (after - 1)) if after else ""
        for starts in range(287 - after, 320 - len(quoted_address) - after + 1):
            prefix = "Acme " + "x" * (starts - 6) + " "
            old = prefix + quoted_address + suffix
            cut = _fit(prefix + ADDRESS + suffix, 320, PSEUDONYM)
            assert len(cut) == 320, (after, starts)
            quoted = event(acme, at=timezone.now(), action="organization.updated", target_text=old)

            _erase(PSEUDONYM, [{"id": str(quoted.pk), "target_text": cut}])

            assert _row(quoted)["target_text"] == cut
            if ADDRESS in cut:
                shapes.add("in kept text")
            elif cut.startswith(prefix + PSEUDONYM):
                shapes.add("inside the address")
            else:
                shapes.add("the pseudonym before the address")
    assert shapes == {"in kept text", "inside the address", "the pseudonym before the address"}
