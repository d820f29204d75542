"""Erasure takes turns with sealing (docs/events.md, "Left, and what a review found", item 3).

``gatehouse_erase_audit_quotes`` (audit migration 0023) is replaced by the same function that
first takes the transaction-level advisory lock the sealer takes before it reads a batch
(``audit.chain.sealer.SEAL_OR_ERASE_LOCK``, the number below). Without it, a batch that read an
event before an erasure rewrote it, and committed after the erasure did, sealed the old
address with a salt the erasure never saw: the verifier then called the event changed, and the
salt still let anyone test guesses of the address. With it, whichever comes second waits for
the other to commit and sees what it wrote: erasure finds the salt and removes it, or the
sealer reads the rewritten values. Same name and arguments, so the application role gains
nothing.
"""

import importlib

from django.db import migrations

_previous = importlib.import_module("audit.migrations.0023_erasure_keeps_the_chain")

# audit.chain.sealer.SEAL_OR_ERASE_LOCK; tests/audit/chain/test_seal_and_erase.py checks that
# the two agree.
SEAL_OR_ERASE_LOCK = -718604662479446142

ANCHOR = "    IF jsonb_typeof(changes) IS DISTINCT FROM 'array'"
LOCK_STEP = f"""    -- Wait for a sealing batch under way, and keep the next one waiting until this
    -- transaction ends (audit.chain.sealer.SEAL_OR_ERASE_LOCK).
    PERFORM pg_advisory_xact_lock({SEAL_OR_ERASE_LOCK});
"""


def _erase_function(with_lock: bool) -> str:
    text = _previous._erase_function(True)
    if with_lock:
        assert text.count(ANCHOR) == 1, "audit migration 0023's erase function changed"
        text = text.replace(ANCHOR, LOCK_STEP + ANCHOR)
    return text


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        sql = _previous._sql(apps, schema_editor, _erase_function(True))
        schema_editor.execute(sql, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        sql = _previous._sql(apps, schema_editor, _erase_function(False))
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0025_log_streams")]

    operations = [migrations.RunPython(forward, backward)]
