"""Field encryption's keys follow the settings (config/encryption.py)."""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.test import override_settings

from config import encryption


def test_keys_changed_at_run_time_are_used_and_forgotten_with_the_change():
    """A test (or anything else) that overrides the keys must not leave its key cached: values
    encrypted afterwards must read with the configured keys, in this process and in a worker
    started from the environment."""
    encryption._fernet.cache_clear()
    configured = encryption._fernet()
    temporary = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[temporary]):
        token = encryption.encrypt("during")
        assert Fernet(temporary.encode()).decrypt(token.encode()) == b"during"
        encryption.encrypt("cached now")  # the temporary key is cached
    assert configured.decrypt(encryption.encrypt("after").encode()) == b"after"
