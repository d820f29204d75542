"""Reading an import file: JSON Lines or CSV into ``Person`` rows, or a ``RowError`` naming
the line, the field and what is wrong (docs/import.md has the format).

Nothing here touches the database: organizations and addresses already taken are checked
when the row is written (accounts/imports/services.py).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from accounts.imports.passwords import PasswordProblem, stored_hash
from accounts.models import User
from organizations.models import Role

MAX_LINE_BYTES = 64 * 1024
MAX_ORGANIZATIONS = 50
MAX_EMAILS = 10
CSV_COLUMNS = (
    "external_id",
    "email",
    "email_verified",
    "display_name",
    "given_name",
    "family_name",
    "other_emails",
    "organizations",
    "password_format",
    "password_hash",
    "password_salt",
    "password_iterations",
    "password_algorithm",
    "totp_secret",
)
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    reason: str
    email: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason, "email": self.email}


class RowProblem(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass
class Person:
    line: int
    email: str
    email_verified: bool = False
    external_id: str = ""
    display_name: str | None = None  # None: not in the row, leave the account's as it is
    other_emails: list[tuple[str, bool]] = field(default_factory=list)
    organizations: list[tuple[str, str]] = field(default_factory=list)  # (slug, role)
    password_hash: str | None = None
    password_format: str = ""
    totp_key: str = ""  # hex, as django-otp stores it


def read(stream: Iterable[str], fmt: str) -> Iterator[Person | RowError]:
    """Every row of ``stream`` (text lines), in order."""
    return read_csv(stream) if fmt == "csv" else read_jsonl(stream)


def read_jsonl(lines: Iterable[str]) -> Iterator[Person | RowError]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > MAX_LINE_BYTES:
            yield RowError(number, "", f"The line is longer than {MAX_LINE_BYTES} characters.")
            continue
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield RowError(number, "", f"Not JSON: {exc}")
            continue
        yield person_or_error(number, raw)


def read_csv(lines: Iterable[str]) -> Iterator[Person | RowError]:
    reader = csv.DictReader(iter(lines))
    try:
        columns = reader.fieldnames or []
    except csv.Error as exc:
        yield RowError(1, "", f"Not CSV: {exc}")
        return
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if "email" not in columns or unknown:
        reason = f"Unknown columns: {', '.join(unknown)}." if unknown else "No email column."
        yield RowError(1, "", reason)
        return
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowError(reader.line_num, "", f"Not CSV: {exc}")
            return
        yield person_or_error(reader.line_num, _from_csv(values))


def _from_csv(values: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row as the JSON row it stands for."""
    raw: dict[str, Any] = {k: v for k, v in values.items() if k and v not in (None, "")}
    if None in values:
        raw["_extra"] = True
    if "email_verified" in raw:
        raw["email_verified"] = _csv_bool(raw["email_verified"], "email_verified")
    if "other_emails" in raw:  # "a@x.example:verified; b@y.example"
        raw["emails"] = [
            {"email": item.partition(":")[0].strip(), "verified": item.endswith(":verified")}
            for item in raw.pop("other_emails").split(";")
            if item.strip()
        ]
    if "organizations" in raw:  # "acme:admin; globex"
        raw["organizations"] = [
            {"slug": item.partition(":")[0].strip(), "role": item.partition(":")[2].strip()}
            for item in raw["organizations"].split(";")
            if item.strip()
        ]
    password = {
        key: raw.pop(f"password_{key}")
        for key in ("format", "hash", "salt", "iterations", "algorithm")
        if f"password_{key}" in raw
    }
    if password:
        raw["password"] = password
    return raw


def _csv_bool(value: str, name: str) -> bool | str:
    lowered = value.strip().lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else value


def person_or_error(line: int, raw: Any) -> Person | RowError:
    given = raw.get("email") if isinstance(raw, dict) else None
    email = given if isinstance(given, str) else ""
    try:
        return parse(line, raw)
    except RowProblem as problem:
        return RowError(line, problem.field, problem.reason, email.strip().lower())


def parse(line: int, raw: Any) -> Person:
    """One row (a JSON object) as a Person; RowProblem names what is wrong."""
    if not isinstance(raw, dict):
        raise RowProblem("", "Each line must be a JSON object.")
    if raw.get("_extra"):
        raise RowProblem("", "More values than columns.")
    person = Person(line=line, email=_email(raw.get("email"), "email"))
    person.email_verified = _bool(raw.get("email_verified", False), "email_verified")
    person.external_id = _optional_text(raw.get("external_id"), "external_id", 255)
    person.display_name = _display_name(raw)
    person.other_emails = _other_emails(raw.get("emails"), person.email)
    person.organizations = _organizations(raw.get("organizations"))
    password = raw.get("password")
    if password is not None:
        if not isinstance(password, dict):
            raise RowProblem("password", "Give an object with a format.")
        try:
            person.password_hash = stored_hash(password, subject=person.external_id or person.email)
        except PasswordProblem as problem:
            raise RowProblem(problem.field, problem.reason) from None
        person.password_format = str(password["format"])
    person.totp_key = _totp_key(raw.get("totp_secret"))
    return person


def _email(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RowProblem(name, "Missing.")
    email = User.objects.normalize_email(value.strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise RowProblem(name, "Not an email address.") from None
    if len(email) > 254:
        raise RowProblem(name, "Longer than 254 characters.")
    return email


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise RowProblem(name, "Give true or false.")
    return value


def _optional_text(value: Any, name: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or "\x00" in value:
        raise RowProblem(name, "Give text.")
    if len(value.strip()) > limit:
        raise RowProblem(name, f"Longer than {limit} characters.")
    return value.strip()


def _display_name(raw: Mapping[str, Any]) -> str | None:
    if raw.get("display_name") is not None:
        return _optional_text(raw["display_name"], "display_name", 150)
    given = _optional_text(raw.get("given_name"), "given_name", 150)
    family = _optional_text(raw.get("family_name"), "family_name", 150)
    name = " ".join(part for part in (given, family) if part)
    if len(name) > 150:
        raise RowProblem("display_name", "Longer than 150 characters.")
    return name or None


def _other_emails(value: Any, primary: str) -> list[tuple[str, bool]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_EMAILS:
        raise RowProblem("emails", f"Give a list of at most {MAX_EMAILS} addresses.")
    found: list[tuple[str, bool]] = []
    for index, item in enumerate(value):
        name = f"emails[{index}]"
        if not isinstance(item, dict):
            raise RowProblem(name, "Give an object with email and verified.")
        email = _email(item.get("email"), f"{name}.email")
        verified = _bool(item.get("verified", False), f"{name}.verified")
        if email != primary and email not in {e for e, _ in found}:
            found.append((email, verified))
    return found


def _organizations(value: Any) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ORGANIZATIONS:
        raise RowProblem("organizations", f"Give a list of at most {MAX_ORGANIZATIONS}.")
    found: dict[str, str] = {}
    for index, item in enumerate(value):
        name = f"organizations[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
            raise RowProblem(name, "Give an object with a slug and a role.")
        role = item.get("role") or Role.MEMBER
        if role not in Role.values:
            raise RowProblem(f"{name}.role", f"Give one of: {', '.join(Role.values)}.")
        found[str(item["slug"]).strip().lower()] = str(role)
    return list(found.items())


def _totp_key(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        raise RowProblem("totp_secret", "Give the base32 secret as text.")
    text = "".join(value.split()).upper().rstrip("=")
    try:
        key = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raise RowProblem("totp_secret", "Not base32.") from None
    if not 10 <= len(key) <= 64:
        raise RowProblem("totp_secret", "Give a secret of 10 to 64 bytes (16 to 103 characters).")
    return key.hex()


def text_lines(data: bytes | str) -> Iterator[str]:
    """``data`` as lines of text (a UTF-8 byte order mark dropped)."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    return iter(io.StringIO(text, newline=""))
