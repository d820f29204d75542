"""Consent records and data-subject requests: purposes, versioned policy documents, consent
events with signed receipts, data export and account erasure."""
