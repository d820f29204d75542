"""Writing imported people: the one write path of an import (docs/import.md).

``import_people`` takes the rows ``accounts.imports.rows`` read and writes each one in a
savepoint of its batch's transaction: a row is written whole or, when something about it is
refused, not at all, and the rest go on. Re-running a file finds each person again (by the old
system's id, else by address) and changes only what differs, so a second run of the same file
creates nobody and reports every row unchanged. A dry run does the same work in one
transaction that it rolls back, so its report says exactly what a real run would do.

What a row may change on an account that exists: its name, an address's verification (only
ever to verified: the operator's word), addresses added, organizations joined or roles
changed, a second factor added, and the password while it is still the one an import set (a
person who has since signed in or changed it keeps theirs). It never changes a primary
address, removes anything, or lowers a verification.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.imports.models import ImportedIdentity, hash_digest
from accounts.imports.rows import Person, RowError, RowProblem
from accounts.models import User, address_is
from audit.actions import Action
from audit.services import record
from organizations.models import Membership, Organization, Role
from organizations.services.members import join, lock_members, set_role

logger = logging.getLogger("gatehouse.imports")
BATCH_SIZE = 500
TOTP_NAME = "Authenticator app (imported)"


@dataclass
class RowOutcome:
    line: int
    email: str
    outcome: str  # created, updated, unchanged
    changes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "email": self.email,
            "outcome": self.outcome,
            "changes": self.changes,
        }


@dataclass
class Report:
    source: str
    dry_run: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: list[RowOutcome] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.created + self.updated + self.unchanged + self.refused

    def counts(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "refused": self.refused,
        }


@dataclass(frozen=True)
class NamedActor:
    """Who ran an import that no person or app ran (the command): the audit log names it by
    ``audit_text``, with no user key."""

    audit_text: str
    is_authenticated = False
    pk = None

    def __str__(self) -> str:
        return self.audit_text


class _Refused(Exception):
    """Rolls a row's savepoint back."""

    def __init__(self, problem: RowProblem) -> None:
        self.problem = problem


def import_people(
    rows: Iterable[Person | RowError],
    *,
    actor: Any,
    actor_text: str = "",
    source: str,
    dry_run: bool = False,
    keep_rows: bool = True,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[Report], None] | None = None,
) -> Report:
    """Write ``rows`` (or, ``dry_run``, say what writing them would do), ``batch_size`` rows
    per transaction, each row in a savepoint. ``progress`` is called after every batch. One
    audit event sums the run up (not for a dry run, which writes nothing)."""
    report = Report(source=source, dry_run=dry_run)
    if actor is None:
        actor = NamedActor(actor_text or "import")
    writer = _Writer(actor=actor, source=source)
    batch: list[Person | RowError] = []

    def flush() -> None:
        if batch:
            with transaction.atomic(durable=not dry_run):
                for row in batch:
                    _one(writer, row, report, keep_rows=keep_rows)
            batch.clear()
            if progress is not None:
                progress(report)

    if dry_run:
        with transaction.atomic(durable=True):
            for row in rows:
                batch.append(row)
                if len(batch) >= batch_size:
                    flush()
            flush()
            transaction.set_rollback(True)
        return report
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            flush()
    flush()
    with transaction.atomic(durable=True):
        record(
            Action.USERS_IMPORT_RUN,
            actor=actor,
            actor_text=actor_text,
            data={"source": source, **report.counts(), "first_errors": _first_errors(report)},
        )
    logger.info("import from %s: %s", source, report.counts())
    return report


def _first_errors(report: Report) -> list[dict[str, Any]]:
    return [{"line": e.line, "field": e.field} for e in report.errors[:20]]


def _one(writer: _Writer, row: Person | RowError, report: Report, *, keep_rows: bool) -> None:
    if isinstance(row, RowError):
        report.refused += 1
        report.errors.append(row)
        return
    try:
        with transaction.atomic():
            outcome = writer.write(row)
    except _Refused as refused:
        report.refused += 1
        report.errors.append(
            RowError(row.line, refused.problem.field, refused.problem.reason, row.email)
        )
        return
    setattr(report, outcome.outcome, getattr(report, outcome.outcome) + 1)
    if keep_rows:
        report.rows.append(outcome)


class _Writer:
    """Writes one row at a time, remembering the organizations it has looked up."""

    def __init__(self, *, actor: Any, source: str) -> None:
        self.actor = actor
        self.source = source
        self.organizations: dict[str, Organization | None] = {}

    def write(self, person: Person) -> RowOutcome:
        try:
            return self._write(person)
        except RowProblem as problem:
            raise _Refused(problem) from None
        except IntegrityError:
            # A unique address or id taken by a concurrent writer since it was looked up.
            raise _Refused(RowProblem("email", "Taken by another account meanwhile.")) from None

    def _write(self, person: Person) -> RowOutcome:
        identity, user = self._find(person)
        if user is None:
            return self._create(person)
        changes: list[str] = []
        if identity is None:
            identity = ImportedIdentity(user=user, source=self.source)
            identity.external_id = person.external_id
            changes.append("linked to the import")
        elif person.external_id and identity.external_id != person.external_id:
            identity.external_id = person.external_id
            changes.append("external_id")
        if person.display_name is not None and person.display_name != user.display_name:
            user.display_name = person.display_name
            user.save(update_fields=["display_name"])
            changes.append("display_name")
        changes += self._addresses(user, person)
        changes += self._password(user, identity, person)
        changes += self._organizations(user, person)
        changes += self._totp(user, person)
        if not changes:
            return RowOutcome(person.line, person.email, "unchanged")
        identity.updated_at = timezone.now()
        identity.save()
        record(
            Action.USER_IMPORT_UPDATED,
            actor=self.actor,
            target=user,
            data={"source": self.source, "changed": changes},
        )
        return RowOutcome(person.line, person.email, "updated", changes)

    def _find(self, person: Person) -> tuple[ImportedIdentity | None, User | None]:
        identity = None
        if person.external_id:
            identity = (
                ImportedIdentity.objects.select_related("user")
                .filter(source=self.source, external_id=person.external_id)
                .first()
            )
        by_address = self._owner_of(person.email)
        if identity is not None:
            if by_address is not None and by_address.pk != identity.user_id:
                raise RowProblem("email", "Belongs to another account than this external_id's.")
            if identity.user.email != person.email and by_address is None:
                raise RowProblem(
                    "email",
                    f"This external_id's account has the address {identity.user.email}; "
                    "an import does not change primary addresses.",
                )
            return identity, identity.user
        if by_address is None:
            return None, None
        identity = ImportedIdentity.objects.filter(source=self.source, user=by_address).first()
        if identity is not None and identity.external_id and person.external_id:
            raise RowProblem("external_id", "The address's account has another external_id.")
        return identity, by_address

    def _owner_of(self, email: str) -> User | None:
        user = User.objects.filter(address_is(email)).first()
        if user is not None:
            return user
        address = (
            EmailAddress.objects.select_related("user")
            .filter(address_is(email), verified=True)
            .first()
        )
        return address.user if address is not None else None

    def _create(self, person: Person) -> RowOutcome:
        user = User(
            email=person.email,
            display_name=person.display_name or "",
            password=person.password_hash or make_password(None),
        )
        user.save()
        EmailAddress.objects.create(
            user=user, email=person.email, verified=person.email_verified, primary=True
        )
        changes = ["account"]
        changes += self._addresses(user, person)
        identity = ImportedIdentity.objects.create(
            user=user,
            source=self.source,
            external_id=person.external_id,
            password_digest=hash_digest(user.password) if person.password_hash else "",
        )
        if person.password_hash:
            changes.append(f"password ({person.password_format})")
        changes += self._organizations(user, person)
        changes += self._totp(user, person)
        record(
            Action.USER_IMPORTED,
            actor=self.actor,
            target=user,
            data={
                "source": self.source,
                "external_id": identity.external_id,
                "email_verified": person.email_verified,
                "password": person.password_format or "none",
            },
        )
        return RowOutcome(person.line, person.email, "created", changes)

    def _addresses(self, user: User, person: Person) -> list[str]:
        changes = []
        wanted = [(person.email, person.email_verified), *person.other_emails]
        existing = {a.email.lower(): a for a in EmailAddress.objects.filter(user=user)}
        for email, verified in wanted:
            address = existing.get(email)
            if address is None:
                owner = self._owner_of(email)
                taken = EmailAddress.objects.filter(address_is(email)).exclude(user=user).exists()
                if (owner is not None and owner.pk != user.pk) or taken:
                    raise RowProblem("emails", f"{email} belongs to another account.")
                EmailAddress.objects.create(
                    user=user, email=email, verified=verified, primary=email == user.email
                )
                changes.append(f"address {email} added")
            elif verified and not address.verified:
                address.verified = True
                address.save(update_fields=["verified"])
                changes.append(f"address {email} verified")
        return changes

    def _password(self, user: User, identity: ImportedIdentity, person: Person) -> list[str]:
        new = person.password_hash
        if new is None or new == user.password:
            return []
        unchanged_since_import = bool(identity.password_digest) and (
            identity.password_digest == hash_digest(user.password)
        )
        if user.has_usable_password() and not unchanged_since_import:
            return []  # theirs now: set, changed or re-hashed in Gatehouse since
        user.password = new
        user.save(update_fields=["password"])
        identity.password_digest = hash_digest(new)
        return [f"password ({person.password_format})"]

    def _organizations(self, user: User, person: Person) -> list[str]:
        changes = []
        for slug, role in person.organizations:
            org = self._organization(slug)
            membership = Membership.objects.for_org(org).filter(user=user).first()
            if membership is None or not membership.is_active:
                join(
                    org=org, user=user, role=role, source=Membership.Source.IMPORT, actor=self.actor
                )
                changes.append(f"joined {slug} as {role}")
            elif membership.role != role:
                lock_members(org)
                owners = Membership.objects.for_org(org).active().filter(role=Role.OWNER)
                if membership.role == Role.OWNER and owners.count() == 1:
                    raise RowProblem(
                        "organizations", f"The last owner of {slug} cannot become {role}."
                    )
                set_role(membership, role, actor=self.actor)
                changes.append(f"role in {slug}: {role}")
        return changes

    def _organization(self, slug: str) -> Organization:
        if slug not in self.organizations:
            self.organizations[slug] = Organization.objects.filter(slug=slug).first()
        org = self.organizations[slug]
        if org is None:
            raise RowProblem("organizations", f"No organization with the slug {slug!r}.")
        return org

    def _totp(self, user: User, person: Person) -> list[str]:
        if not person.totp_key:
            return []
        if TOTPDevice.objects.filter(user=user, key=person.totp_key, confirmed=True).exists():
            return []
        device = TOTPDevice.objects.create(
            user=user, name=TOTP_NAME, key=person.totp_key, confirmed=True
        )
        record(
            Action.MFA_DEVICE_ADDED,
            actor=self.actor,
            target=user,
            data={"kind": "totp", "device": device.name, "imported": True},
        )
        return ["authenticator app added"]
