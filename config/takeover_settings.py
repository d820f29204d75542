"""Takeover defences' settings (accounts/takeover/). Imported by name into config/settings.py."""

from __future__ import annotations

from config.env import env_bool, env_int

# The device cookie: a random id, signed, that tells a known browser from a new one.
GATEHOUSE_DEVICE_COOKIE_NAME = "gatehouse_device"
GATEHOUSE_DEVICE_COOKIE_AGE = env_int("DEVICE_COOKIE_DAYS", 400) * 24 * 3600
# New-sign-in emails per person per hour at most (a flood of new devices is an attack, and
# one email already says what to do).
GATEHOUSE_NEW_DEVICE_EMAILS = (env_int("NEW_DEVICE_EMAILS_PER_HOUR", 3), 3600)
# How long the "This wasn't me" link of a new-sign-in email works.
GATEHOUSE_DISOWN_LINK_AGE = env_int("DISOWN_LINK_DAYS", 7) * 24 * 3600
# Failed password attempts for an account, in the throttle's window, that make a sign-in risky.
GATEHOUSE_RISK_FAILURE_BURST = env_int("RISK_FAILURE_BURST", 3)
# Ask for a second factor (an emailed code for people with none) when a sign-in is risky;
# organizations may ask for it for their members whatever this says.
GATEHOUSE_RISK_STEP_UP = env_bool("RISK_STEP_UP", False)
# Credential stuffing: the login form asks for a proof-of-work challenge (ALTCHA) while
# failures come from many addresses from one network (IPv4 /24, IPv6 /64) in a window, or
# while failures across the whole system rise over their baseline.
GATEHOUSE_STUFFING = {
    "network_addresses": env_int("STUFFING_NETWORK_ADDRESSES", 20),
    "network_window": env_int("STUFFING_NETWORK_WINDOW", 600),
    "global_failures": env_int("STUFFING_GLOBAL_FAILURES", 200),
    "global_factor": env_int("STUFFING_GLOBAL_FACTOR", 5),
    "global_window": env_int("STUFFING_GLOBAL_WINDOW", 300),
    "baseline_window": env_int("STUFFING_BASELINE_WINDOW", 3600),
}
# The challenge's difficulty (the largest number the browser may have to try: about a second
# of a phone's work at 100,000) and how long one is valid.
GATEHOUSE_CHALLENGE_MAX_NUMBER = env_int("CHALLENGE_MAX_NUMBER", 100_000)
GATEHOUSE_CHALLENGE_SECONDS = env_int("CHALLENGE_SECONDS", 1200)
