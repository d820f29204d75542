"""The SSO checks are data (sso/checks.py): one enumeration that every refusal names, from which
the step table of "Test connection" is derived, and that covers every error python3-saml can
report. A check raised as a bare string, or a step table kept by hand, would fail here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError

from sso import checks
from sso.checks import OIDC, SAML, SAML_LOGOUT, Check, Step
from sso.diagnostics import checklist
from sso.models import Connection

SSO = Path(checks.__file__).resolve().parent
REFUSING = {"refused", "logout_refused"}


def sso_modules() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(SSO.rglob("*.py"))
        if "migrations" not in path.parts
    ]


def validation_codes() -> dict[str, int]:
    return {
        name: code
        for name, code in vars(OneLogin_Saml2_ValidationError).items()
        if name.isupper() and isinstance(code, int)
    }


def test_every_python3_saml_validation_error_is_a_saml_check_of_the_same_name():
    for name, code in validation_codes().items():
        check = checks.saml_library_check(OneLogin_Saml2_ValidationError("x", code))
        assert check is Check[name], name
        assert any(SAML in step.flows for step in check.steps), name
    assert set(checks.LIBRARY_CHECKS) == set(validation_codes().values())


def test_other_library_errors_are_named_too():
    settings_error = OneLogin_Saml2_Error("x", OneLogin_Saml2_Error.SETTINGS_INVALID)
    assert checks.saml_library_check(settings_error) is Check.INVALID_RESPONSE
    assert checks.saml_library_check(SyntaxError("not XML")) is Check.MALFORMED_RESPONSE
    unknown = OneLogin_Saml2_ValidationError("x", 9999)
    assert checks.saml_library_check(unknown) is Check.INVALID_RESPONSE


def test_every_check_has_a_step_in_a_flow_and_a_message_for_the_it_admin():
    for check in Check:
        assert check.steps, check
        assert all(isinstance(step, Step) for step in check.steps), check
        assert len({flow for step in check.steps for flow in step.flows}) == sum(
            len(step.flows) for step in check.steps
        ), f"{check} has two steps in one flow"
        assert check.message.endswith("."), check
        assert check.code == check.name.lower()


def test_every_step_is_failed_by_some_check():
    for step in Step:
        assert checks.checks_of(step), step


def test_checks_are_raised_by_member_never_by_string():
    """``refused``/``logout_refused`` take a ``Check`` (typed, so mypy refuses a string), and
    no code builds a Refusal with a check name of its own."""
    for path, tree in sso_modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in REFUSING:
                first = node.args[0]
                assert not isinstance(first, ast.Constant), (path, node.lineno)
                if isinstance(first, ast.Attribute):
                    assert getattr(first.value, "id", "") == "Check", (path, node.lineno)
                    assert first.attr in Check.__members__, (path, node.lineno)
            if name == "Refusal" and path.name != "checks.py":
                assert not any(k.arg == "code" for k in node.keywords), (path, node.lineno)


def test_every_enumerated_check_is_raised_somewhere():
    referenced = {c.name for c in checks.LIBRARY_CHECKS.values()}
    for _, tree in sso_modules():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and getattr(node.value, "id", "") == "Check"
                and not node.attr.startswith("_")
            ):
                referenced.add(node.attr)
    assert referenced - set(Check.__members__) == set()
    assert set(Check.__members__) - referenced == set()


@pytest.mark.parametrize("protocol", [SAML, OIDC])
def test_the_step_table_is_derived_from_the_checks(protocol):
    connection = Connection(protocol=protocol)
    table = checks.steps(protocol)
    assert table == [step for step in Step if protocol in step.flows]
    assert [s["label"] for s in checklist(connection, "")] == [step.label for step in table]
    assert all(s["state"] == "passed" for s in checklist(connection, ""))
    for check in Check:
        mine = [step for step in check.steps if protocol in step.flows]
        if not mine:
            assert checks.by_code(protocol, check.code) is None
            continue
        states = [s["state"] for s in checklist(connection, check.code)]
        failed_at = table.index(mine[0])
        assert states == (
            ["passed"] * failed_at + ["failed"] + ["not reached"] * (len(table) - failed_at - 1)
        ), check


def test_logout_checks_are_not_steps_of_a_sign_in():
    for protocol in (SAML, OIDC):
        assert Step.SAML_LOGOUT not in checks.steps(protocol)
    assert checks.steps(SAML_LOGOUT) == [Step.SAML_LOGOUT]
    assert checks.by_code(SAML, "replayed_or_stale") is None
    assert checks.by_code(SAML_LOGOUT, "replayed_or_stale") is Check.REPLAYED_OR_STALE


def test_a_failed_check_is_a_refusal_carrying_its_name_and_audit_event(acme_org):
    connection = Connection(organization=acme_org.org, slug="acme-1", protocol=SAML)

    refusal = checks.refused(Check.WRONG_AUDIENCE, connection)

    assert refusal.code == "wrong_audience"
    assert refusal.status == 403
    assert refusal.message == Check.WRONG_AUDIENCE.message
    assert refusal.action is not None
    assert refusal.action.value == "sso.login_failed"
    assert refusal.details == {
        "connection": "acme-1",
        "check": "wrong_audience",
        "reason": Check.WRONG_AUDIENCE.message,
    }
