"""The directory as the actor of its changes: what services and the audit log see."""

from __future__ import annotations

from dataclasses import dataclass

from sso.scim.models import Directory


@dataclass(frozen=True)
class DirectoryActor:
    """A SCIM directory acting through its token. Not a person: ``is_authenticated`` is False,
    so nothing that asks for a signed-in person treats it as one, and the audit log names it
    by ``audit_text`` ("scim:<directory id>")."""

    directory: Directory

    is_authenticated = False
    is_anonymous = True
    is_staff = False
    is_superuser = False
    pk = None

    @property
    def audit_text(self) -> str:
        return self.directory.actor_text

    @property
    def organization_id(self) -> int:
        return self.directory.organization_id
