"""The suite asks for the embedded mode (SQLite, eager tasks, local cache) unless it is
pointed at real services, as CI is with DATABASE_URL. Gatehouse itself never falls back to
that mode on its own (config/settings.py).

Loaded with ``-p`` (pyproject.toml) so that it runs before pytest-django reads the settings.
"""

import os

if not os.environ.get("DATABASE_URL"):
    os.environ.setdefault("GATEHOUSE_EMBEDDED", "1")
