"""Consent in the Django admin.

The privacy officer maintains what people are asked to agree to: purposes (archived, never
deleted) and policy documents with their versions. A version is a draft until someone publishes
it from its page, giving a reason; from then on the admin shows it read-only, like the database
keeps it. Support staff read the evidence: every consent event with its signed receipt, and on
each user's page their current decisions. Nobody changes or deletes evidence here, and the
private half of a receipt key never reaches a page, a form or a URL filter.
"""

from consent.admin import evidence, policies, purposes

__all__ = ["evidence", "policies", "purposes"]
