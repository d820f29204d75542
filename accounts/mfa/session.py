"""What a session knows about second factors: that it passed one.

Session state, not a database write, so it lives beside the views that own the session rather
than in the services.
"""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django_otp import DEVICE_ID_SESSION_KEY


def mark_verified(*, session: SessionBase, user: Any, device: Any) -> None:
    """``session`` passed a second factor with ``device`` (django-otp's ``is_verified()``).

    ``user`` is the session's user. During a login's second step nobody is signed in yet:
    the device is noted all the same, and Django's login() keeps it, because it only cycles
    the session of an anonymous visitor. A signed-in user is marked verified at once, and only
    with a device of their own."""
    if getattr(user, "is_authenticated", False):
        if device.user_id != user.pk:
            return
        user.otp_device = device
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
