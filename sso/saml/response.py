"""python3-saml's response checks, plus the ones it leaves optional, each with a name.

The name of the check that failed goes to the audit log and to the "Test connection" page, so
an IT admin can see *what* to fix on their side ("audience", "assertion_expired"...).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Collection
from typing import Any

from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response

# A bearer assertion must say when it stops being usable, and not in the far future: the
# replay cache keeps each assertion id until then.
MAX_ASSERTION_LIFETIME = 24 * 3600

_CHECK_NAMES = {
    value: name.lower()
    for name, value in vars(OneLogin_Saml2_ValidationError).items()
    if name.isupper() and isinstance(value, int)
}


class GatehouseCheckFailed(OneLogin_Saml2_ValidationError):
    """A check python3-saml leaves optional and Gatehouse requires, with its own name."""

    def __init__(self, check: str, message: str, code: int) -> None:
        super().__init__(message, code)
        self.check = check


def check_name(exc: Exception) -> str:
    if isinstance(exc, GatehouseCheckFailed):
        return exc.check
    if isinstance(exc, OneLogin_Saml2_ValidationError):
        return _CHECK_NAMES.get(exc.code, "invalid_response")
    if isinstance(exc, OneLogin_Saml2_Error):
        return "invalid_response"
    return "malformed_response"


class GatehouseResponse(OneLogin_Saml2_Response):
    failed_check: str = ""

    def is_valid(
        self, request_data: dict, request_id: Any = None, raise_exceptions: bool = False
    ) -> bool:
        try:
            super().is_valid(request_data, request_id, raise_exceptions=True)
            # python3-saml checks the audience only when the assertion names one: an assertion
            # without <Audience> would be good at every service provider the IdP trusts.
            audiences = self.get_audiences()
            if not audiences:
                raise GatehouseCheckFailed(
                    "audience_missing",
                    "The assertion names no audience: it must name this connection.",
                    OneLogin_Saml2_ValidationError.WRONG_AUDIENCE,
                )
            if audiences != [self._settings.get_sp_data()["entityId"]]:
                raise OneLogin_Saml2_ValidationError(
                    "The assertion must name this connection as its only audience.",
                    OneLogin_Saml2_ValidationError.WRONG_AUDIENCE,
                )
            not_on_or_after = self.get_assertion_not_on_or_after()
            if not_on_or_after is None or not_on_or_after - time.time() > MAX_ASSERTION_LIFETIME:
                raise GatehouseCheckFailed(
                    "not_on_or_after_required",
                    "The assertion's SubjectConfirmationData must have a NotOnOrAfter at most "
                    "24 hours ahead.",
                    OneLogin_Saml2_ValidationError.WRONG_SUBJECTCONFIRMATION,
                )
        except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as exc:
            self._error = str(exc)
            self.failed_check = check_name(exc)
            if raise_exceptions:
                raise
            return False
        return True

    def repeated_attributes(self, names: Collection[str]) -> list[str]:
        """Which of ``names`` the (verified) assertion gives more than once: in two
        <Attribute> elements with that Name, or in one with several <AttributeValue>s.

        Reads the elements python3-saml's ``get_attributes`` reads, so what is checked here is
        what allauth is handed. python3-saml merges repeated elements into one list and allauth
        keeps its first value, so whoever orders the values would choose the account.
        """
        value_tag = f"{{{OneLogin_Saml2_Constants.NS_SAML}}}AttributeValue"
        elements: Counter[str] = Counter()
        several: set[str] = set()
        for node in self._query_assertion("/saml:AttributeStatement/saml:Attribute"):
            name = node.get("Name")
            if name not in names:
                continue
            elements[name] += 1
            if len(list(node.iterchildren(value_tag))) > 1:
                several.add(name)
        return sorted(name for name in names if elements[name] > 1 or name in several)
