"""Failures injected into a flow, to prove that its writes stand or fall together."""

from __future__ import annotations

import pytest

from accounts import receivers


class AuditDown(Exception):
    """The audit log cannot be written."""


def audit_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every audit event the account flows record (accounts/receivers.py) fails from now on."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AuditDown

    monkeypatch.setattr(receivers, "record", refuse)
