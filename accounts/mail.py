"""The email backend of the embedded default: keep every message, and show it."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from django.core.mail.backends.filebased import EmailBackend as FileBackend
from django.core.mail.message import EmailMessage


class FolderAndConsoleBackend(FileBackend):
    """Writes each message to ``EMAIL_FILE_PATH`` and echoes it on standard output.

    A newcomer running ``make run`` has no mail server; this way the verification link of their
    first sign-up is in the terminal and in ``var/mail/``.
    """

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        sent = super().send_messages(email_messages)
        for message in email_messages:
            sys.stdout.write(message.message().as_string() + "\n" + "-" * 79 + "\n")
        sys.stdout.flush()
        return sent
