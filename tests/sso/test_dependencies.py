"""Dependencies point one way: sso builds on accounts, and accounts asks sso only through the
hooks sso registers (accounts/extensions.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from accounts import extensions
from sso import admission, enforcement
from sso.saml.logout import idp_logout_url

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_accounts_imports_nothing_from_sso():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] == "sso"
        )
        for path in (ROOT / "accounts").rglob("*.py")
    }
    assert {path: mods for path, mods in offenders.items() if mods} == {}


def test_sso_answers_what_accounts_asks():
    assert extensions.hooks.first_factor_mfa is admission.trusts_idp_mfa
    assert extensions.hooks.idp_logout_url is idp_logout_url
    assert extensions.hooks.login_refusal is enforcement.refuse_unless_allowed
    assert extensions.hooks.address_change_refusal is enforcement.address_change_refusal
