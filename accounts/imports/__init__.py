"""Importing people from another identity system: a file of people (JSON Lines or CSV) read
by ``rows``, their passwords turned into hashes Django can verify by ``passwords`` (with the
import-only hashers of ``hashers``), written by ``services`` and reached through the
``import_users`` command and POST /api/v1/users/import (``api``). ``legacy`` asks the old
system about people whose hashes could not be exported. docs/import.md describes it all."""
