"""Consent records and data-subject requests (issue 6)."""
