from __future__ import annotations

from django import template

from accounts.devices import describe_user_agent

register = template.Library()


@register.filter
def device_name(user_agent: str) -> str:
    """{{ session.user_agent|device_name }}: "Chrome on macOS" (accounts/devices.py)."""
    return describe_user_agent(user_agent) or "Unknown device"
