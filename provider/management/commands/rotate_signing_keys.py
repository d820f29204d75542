"""Rotate the provider's signing keys: publish the next key, activate it, retire the old one,
or (``--auto``) whichever of these is due; without an action, show the keys.

    manage.py rotate_signing_keys                    # the keys and their states
    manage.py rotate_signing_keys --auto             # the due step for each algorithm (daily)
    manage.py rotate_signing_keys --alg ES256 --publish
    manage.py rotate_signing_keys --alg ES256 --activate [--force]
    manage.py rotate_signing_keys --retire [--force]

Each step is a service of provider.services.keys, audited as ``oauth.signing_key_*``.
``--force`` is for a compromised key: activate a key that verifiers may not have fetched yet,
or retire keys whose tokens may still be alive.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from config.refusals import Refusal
from provider.key_rotation import ALGORITHMS, DEFAULT_ROTATE_AFTER, auto_rotate
from provider.models import KeyState, SigningKey
from provider.services import keys as key_services

REASON = "manage.py rotate_signing_keys"


class Command(BaseCommand):
    help = "Publish, activate or retire the provider's signing keys (--auto: what is due)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--alg", choices=ALGORITHMS, help="Only this algorithm.")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--publish", action="store_true", help="Publish the next key.")
        action.add_argument("--activate", action="store_true", help="Sign with the next key.")
        action.add_argument("--retire", action="store_true", help="Retire old keys.")
        action.add_argument("--auto", action="store_true", help="Take the step that is due.")
        parser.add_argument("--force", action="store_true", help="See the module's docstring.")
        parser.add_argument(
            "--rotate-after-days",
            type=int,
            default=DEFAULT_ROTATE_AFTER.days,
            help="With --auto: publish a next key once the active one is this old.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        algs = (options["alg"],) if options["alg"] else ALGORITHMS
        force = options["force"]
        try:
            if options["auto"]:
                if force:
                    raise CommandError("--auto never forces; name the step instead.")
                steps = auto_rotate(
                    algs=algs, rotate_after=timedelta(days=options["rotate_after_days"])
                )
                for step in steps:
                    self.stdout.write(str(step))
                if not steps:
                    self.stdout.write("Nothing is due.")
            elif options["publish"]:
                for alg in algs:
                    row = key_services.publish_next_key(actor=None, alg=alg, reason=REASON)
                    self.stdout.write(f"{alg}: published {row.kid} (it signs once activated)")
            elif options["activate"]:
                for alg in algs:
                    row = key_services.activate_next_key(
                        actor=None, alg=alg, force=force, reason=REASON
                    )
                    self.stdout.write(f"{alg}: activated {row.kid}")
            elif options["retire"]:
                self._retire(algs, force)
        except Refusal as refusal:
            raise CommandError(refusal.message) from refusal
        self._show(algs)

    def _retire(self, algs: tuple[str, ...], force: bool) -> None:
        for alg in algs:
            if force:
                kids = SigningKey.objects.filter(alg=alg, state=KeyState.RETIRING)
                retired = [
                    kid
                    for key in kids.values_list("kid", flat=True)
                    for kid in key_services.retire_keys(force_kid=key, reason=REASON)
                ]
            else:
                retired = key_services.retire_keys(alg=alg, reason=REASON)
            for kid in retired:
                self.stdout.write(f"{alg}: retired {kid}")

    def _show(self, algs: tuple[str, ...]) -> None:
        rows = SigningKey.objects.filter(alg__in=algs).exclude(state=KeyState.RETIRED)
        for row in rows.order_by("alg", "-created_at"):
            self.stdout.write(
                f"  {row.alg}  {row.state:8}  {row.kid}  created {row.created_at:%Y-%m-%d %H:%M}"
            )
