"""The consent API: /api/v1/me/consent... for the signed-in person, and operator endpoints
(/api/v1/consent/..., /api/v1/users/<id>/consent...) for the operator's own backends.

Two audiences, one write path. A person reads where they stand and gives or withdraws their own
consents (``method="api"``); the re-acceptance gate lets these two paths through, so an app can
show the terms and take the acceptance while everything else answers "consent required". An
operator's backend, holding ``consent.manage_subject_consents``, reads anyone's consents, records
decisions on their behalf, and imports consent collected elsewhere (``method="import"``: only
an import may say when, from where, and on which older version). Every decision goes through
``consent.services.record_consent``; its refusals reach the client as problem responses
(config/api.py). Events never show the IP address or user agent they hold: that evidence stays
in the Django admin.
"""

from consent.api.me import MyConsentEventsView, MyConsentReceiptView, MyConsentsView, MyErasureView
from consent.api.operators import (
    DoNotSellView,
    PurposeCatalogueView,
    SubjectConsentEventsView,
    SubjectConsentReceiptView,
    SubjectConsentsView,
)

__all__ = [
    "DoNotSellView",
    "MyConsentEventsView",
    "MyConsentReceiptView",
    "MyConsentsView",
    "MyErasureView",
    "PurposeCatalogueView",
    "SubjectConsentEventsView",
    "SubjectConsentReceiptView",
    "SubjectConsentsView",
]
