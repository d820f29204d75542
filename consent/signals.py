"""Signals for whatever reacts to consent changes (outgoing webhooks, a CRM sync). Sent once the
transaction that wrote the change has committed, never for a change that rolled back."""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: event (ConsentEvent), user, purpose, decision ("granted" | "withdrawn")
consent_changed = Signal()

# Sent once an erasure has committed. kwargs: user (the tombstone left behind), old_public_id
# (the identifier apps knew the person by; the tombstone has a new one).
user_erased = Signal()
