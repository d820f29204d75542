"""Erasure marks cannot be forged (docs/events.md, "Left, and what a review found", item 2).

An erased event has lost its salt, so the verifier can no longer check what it quotes: it
accepts the stored commitments, but only where the erasure named by the mark could have
rewritten the event (the person caused it, it is about them or their things, or it quotes the
pseudonym), and only for a pseudonym recorded as an erasure's (``ErasureSubject``). A real
erasure, of the person's own events and of someone else's that quoted their address, still
verifies. The application role cannot forge a mark: it may not add one, and the erase function
refuses a rewrite that is not erasure's. Someone with the database server's full access can,
and verify_audit names the event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from audit.chain.models import AuditErasureMark, AuditSalt
from audit.models import AuditEvent
from audit.services import rewrite_events
from tests.audit.chain.helpers import (
    checkpoint_file,
    position_of,
    seal_committed,
    superuser,
    verify_audit,
)
from tests.audit.helpers import BASE, erasure_under_way, event
from tests.conftest import require
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
CHAIN = 4343
PAT, SAM = "pat@person.example", "sam@else.example"
PSEUDONYM = "erased-0a0b0c0d0e0f"
ERASED = f"{PSEUDONYM}@erased.invalid"


@pytest.fixture
def erased(tmp_path):
    """Three sealed events of one organization: Pat's own sign-in, Sam inviting Pat's address,
    and Sam's own change that has nothing to do with Pat; a checkpoint kept in a file; then
    Pat's erasure rewrites the first two."""
    require(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    pat, sam = UserFactory(email=PAT), UserFactory(email=SAM)
    erasure_under_way(pat, PSEUDONYM)
    theirs = event(CHAIN, at=BASE, actor=pat, actor_text=PAT, data={"email": PAT})
    quoting = event(
        CHAIN,
        at=BASE + timedelta(minutes=1),
        action="invitation.created",
        actor=sam,
        actor_text=SAM,
        data={"email": PAT, "role": "member"},
    )
    unrelated = event(
        CHAIN,
        at=BASE + timedelta(minutes=2),
        action="organization.updated",
        actor=sam,
        actor_text=SAM,
        data={"plan": "small", "seats": 10},
    )
    seal_committed()
    path = checkpoint_file(tmp_path, CHAIN)
    rewrite_events(
        PSEUDONYM,
        [
            (theirs.pk, {"actor_text": ERASED, "data": {"email": ERASED}}),
            (quoting.pk, {"data": {"email": ERASED, "role": "member"}}),
        ],
    )
    return {"theirs": theirs, "quoting": quoting, "unrelated": unrelated, "path": path}


def _forge_mark(made: AuditEvent, pseudonym: str, data: str) -> None:
    """What erasure leaves, done by hand past every guard: the salt gone, a mark, new data."""
    with superuser() as db:
        db.execute("DELETE FROM audit_auditsalt WHERE event_id = %s", [made.pk])
        db.execute(
            "INSERT INTO audit_auditerasuremark (event_id, pseudonym, at) VALUES (%s, %s, now())",
            [made.pk, pseudonym],
        )
        db.execute("UPDATE audit_auditevent SET data = %s WHERE id = %s", [data, made.pk])


def test_a_real_erasure_still_verifies(erased):
    code, output = verify_audit("--checkpoint", str(erased["path"]))

    assert code == 0, output
    assert f"chain {CHAIN}: 3 events verified up to position 3" in output
    marked = set(AuditErasureMark.objects.values_list("event_id", flat=True))
    assert marked == {erased["theirs"].pk, erased["quoting"].pk}
    assert AuditSalt.objects.filter(event_id=erased["unrelated"].pk).exists()


def test_a_mark_forged_on_an_event_not_about_the_person_is_named(erased):
    unrelated = erased["unrelated"]
    _forge_mark(unrelated, PSEUDONYM, '{"plan": "large", "seats": 10}')

    code, output = verify_audit("--checkpoint", str(erased["path"]))

    assert code == 1, output
    assert (
        f"position {position_of(unrelated)}: event {unrelated.pk} is marked erased as "
        f"{PSEUDONYM}, but is not about the person erased"
    ) in output, output


def test_a_mark_naming_no_erasure_is_named(erased):
    unrelated = erased["unrelated"]
    made_up = "erased-ffffffffffff"
    # Quoting the made-up pseudonym does not help: no erasure recorded it.
    _forge_mark(unrelated, made_up, f'{{"plan": "{made_up}", "seats": 10}}')

    code, output = verify_audit("--checkpoint", str(erased["path"]))

    assert code == 1, output
    assert (
        f"position {position_of(unrelated)}: event {unrelated.pk} is marked erased as "
        f"{made_up}, which no erasure recorded"
    ) in output, output


def test_the_application_role_cannot_forge_one_through_the_erase_function(erased):
    """The rewrite the review found: another event's data replaced by something naming the
    pseudonym, through the erase function, for an erasure under way. Refused, and the chain
    still verifies."""
    unrelated = erased["unrelated"]
    forged = {"plan": f"large, approved by {PSEUDONYM}", "seats": 10}

    with pytest.raises(DatabaseError, match="only puts the pseudonym"), transaction.atomic():
        rewrite_events(PSEUDONYM, [(unrelated.pk, {"data": forged})])

    assert AuditEvent.objects.get(pk=unrelated.pk).data == {"plan": "small", "seats": 10}
    assert not AuditErasureMark.objects.filter(event_id=unrelated.pk).exists()
    assert verify_audit("--checkpoint", str(erased["path"]))[0] == 0
