"""python3-saml's SAML response, with what Gatehouse's checks need to read from it.

python3-saml validates a response in one call and keeps only the message of the error that
stopped it. ``GatehouseResponse`` also keeps the error itself: its code names the failed check
(``sso.checks.saml_library_check``). This is the one place python3-saml's exception type is
handled; past it, a failed check is a ``Refusal``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError
from onelogin.saml2.response import OneLogin_Saml2_Response


class GatehouseResponse(OneLogin_Saml2_Response):
    # What python3-saml's validation raised, when the response is not valid.
    validation_error: Exception | None = None

    def is_valid(
        self, request_data: dict, request_id: Any = None, raise_exceptions: bool = False
    ) -> bool:
        try:
            return bool(super().is_valid(request_data, request_id, raise_exceptions=True))
        except (OneLogin_Saml2_Error, OneLogin_Saml2_ValidationError) as exc:
            self.validation_error = exc
            if raise_exceptions:
                raise
            return False

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
