"""``manage.py verify_audit``: check the audit log's hash chains.

Without arguments every chain is checked against its newest stored checkpoint. ``--org SLUG``
checks one organization's chain (``--gatehouse`` the Gatehouse-wide one), and ``--checkpoint
FILE`` checks it against a checkpoint someone kept (the JSON the audit page downloads). Exits
1 and names the first failing position and event when anything does not verify.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.chain import checkpoints
from audit.chain.models import GATEHOUSE_WIDE, AuditChain
from audit.chain.verify import Problem, verify


class Command(BaseCommand):
    help = "Verify the audit log's hash chains (against a checkpoint, if given)."

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group()
        which.add_argument("--org", help="the organization's slug")
        which.add_argument("--gatehouse", action="store_true", help="the Gatehouse-wide chain")
        parser.add_argument("--checkpoint", help="a checkpoint file (JSON) to verify against")

    def handle(self, *args: Any, **options: Any) -> None:
        claim = None
        if options["checkpoint"]:
            try:
                claim = checkpoints.read(Path(options["checkpoint"]).read_bytes())
            except OSError as exc:
                raise CommandError(f"cannot read {options['checkpoint']}: {exc}") from exc
            except checkpoints.CheckpointInvalid as exc:
                raise CommandError(str(exc)) from exc
        chains = self._chains(options, claim)
        failed = 0
        for chain in chains:
            stored, untrusted = None, None
            if claim is None:
                newest = checkpoints.newest_checkpoint(chain)
                if newest is not None:
                    try:
                        stored = checkpoints.read(checkpoints.as_json(newest))
                    except checkpoints.CheckpointInvalid as exc:
                        untrusted = Problem(
                            f"the newest checkpoint stored (size {newest.size}) cannot be "
                            f"trusted: {exc}",
                            position=newest.size,
                        )
            report = verify(chain, claim or stored)
            if untrusted is not None:
                report.problems.insert(0, untrusted)
            if report.ok:
                self.stdout.write(report.summary())
            else:
                failed += 1
                self.stderr.write(report.summary())
                for problem in report.problems[1:20]:
                    self.stderr.write(f"  also: {problem}")
        if failed:
            raise CommandError(f"{failed} chain(s) did not verify", returncode=1)

    def _chains(self, options: dict[str, Any], claim: Any) -> list[int]:
        from organizations.models import Organization

        if options["org"]:
            org = Organization.objects.filter(slug=options["org"]).first()
            if org is None:
                raise CommandError(f"no organization {options['org']}")
            return [org.pk]
        if options["gatehouse"]:
            return [GATEHOUSE_WIDE]
        if claim is not None:
            return [claim.chain]
        return list(AuditChain.objects.order_by("chain").values_list("chain", flat=True))
