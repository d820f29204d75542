"""What a newcomer sees on `make run`: the address to open, and demo passwords they are told
change at every run."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path

from django.contrib.auth import authenticate
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def _run_target() -> str:
    makefile = (ROOT / "Makefile").read_text()
    target = re.search(r"^run:.*?(?=^\S)", makefile, flags=re.M | re.S)
    assert target is not None, makefile
    return target.group(0)


def test_make_run_serves_on_the_localhost_address_the_readme_asks_for():
    # Django prints the address it was given; it must be the one people should open.
    [address] = re.findall(r"manage\.py runserver (\S+)", _run_target())
    assert address == "localhost:8000"
    assert "<http://localhost:8000>" in (ROOT / "README.md").read_text()


def test_make_run_asks_for_the_embedded_mode_for_every_command():
    # Without it Gatehouse is in production mode and refuses to start on an empty laptop.
    commands = re.findall(r"^\t(.*manage\.py.*)$", _run_target(), flags=re.M)
    assert len(commands) == 3
    assert all(command.startswith("$(EMBEDDED) ") for command in commands)
    assert re.search(r"^EMBEDDED := GATEHOUSE_EMBEDDED=1$", (ROOT / "Makefile").read_text(), re.M)


def _seed() -> tuple[str, dict[str, str]]:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    text = out.getvalue()
    passwords = dict(re.findall(r"^\s+(\S+@\S+)\s+(\S+)\s", text, flags=re.M))
    return text, passwords


def test_seed_demo_says_its_passwords_change_at_every_run():
    first_text, first = _seed()
    _, second = _seed()

    assert "new at every run" in first_text
    assert "old ones stop" in first_text
    assert set(first) == set(second) == {"admin@gatehouse.localhost", "ada@example.com"}
    for email in first:
        assert first[email] != second[email]
        assert authenticate(email=email, password=first[email]) is None
        assert authenticate(email=email, password=second[email]) is not None
