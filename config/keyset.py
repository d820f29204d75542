"""Keyset ("seek") pages over any ordered queryset: the next page starts after the last row
seen, so page 900 costs what page 1 costs, where ``OFFSET`` reads and throws away every row
before it.

A cursor is an opaque token holding the sort key of the last row seen (its values for each
ordering column, the primary key last). ``after(queryset, ordering, values)`` narrows the
queryset to the rows that sort after it: ``a < x OR (a = x AND id < y)``, with ``a <= x`` in
front so that PostgreSQL walks an index on ``(a, id)`` from the right place. The admin's deep
pages (config/admin_scale.py) and the API's ``cursor`` pages (config/api_framework.py) share it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Model, Q, QuerySet


class BadCursor(ValueError):
    """A cursor that this ordering did not make (tampered, truncated, or from another list)."""


@dataclass(frozen=True)
class Column:
    path: str  # a field path as ``order_by`` takes it: ``date_joined``, ``user__email``
    descending: bool
    field: Field[Any, Any]


def columns(model: type[Model], ordering: list[Any] | tuple[Any, ...]) -> list[Column] | None:
    """The ordering as columns a cursor can hold, the primary key last (added when missing);
    None when a page cannot be cut by key (an expression, a random order, a nullable column:
    NULLs do not compare)."""
    found: list[Column] = []
    for item in ordering:
        if not isinstance(item, str) or item == "?" or "." in item:
            return None
        descending = item.startswith("-")
        path = item.lstrip("-+")
        field = _field(model, path)
        if field is None or field.null:
            return None
        found.append(Column(path, descending, field))
        if field.primary_key:
            return found
    pk = model._meta.pk
    assert pk is not None
    last_descending = found[-1].descending if found else False
    return [*found, Column(pk.name, last_descending, pk)]


def _field(model: type[Model], path: str) -> Field[Any, Any] | None:
    if path == "pk":
        return model._meta.pk
    current: Any = model
    field: Any = None
    for part in path.split("__"):
        try:
            field = current._meta.get_field(part)
        except FieldDoesNotExist:
            return None
        if field.is_relation:
            if field.many_to_many or field.one_to_many or not field.concrete:
                return None
            current = field.related_model
    return field if isinstance(field, Field) else None


def ordered(queryset: QuerySet[Any], cols: list[Column]) -> QuerySet[Any]:
    return queryset.order_by(*[f"-{c.path}" if c.descending else c.path for c in cols])


def values_of(row: Model, cols: list[Column]) -> list[Any]:
    values = []
    for col in cols:
        value: Any = row
        for part in col.path.split("__"):
            value = getattr(value, "pk" if part == "pk" else part)
        values.append(value.pk if isinstance(value, Model) else value)
    return values


def token(row: Model, cols: list[Column]) -> str:
    """The cursor of the page that follows ``row``."""
    values = [
        col.field.value_to_string(_Holder(col.field, value))  # type: ignore[arg-type]
        for col, value in zip(cols, values_of(row, cols), strict=True)
    ]
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class _Holder:
    """``Field.value_to_string`` reads the value from an object's attribute."""

    def __init__(self, field: Field[Any, Any], value: Any) -> None:
        setattr(self, field.attname, value)


def parse(cursor: str, cols: list[Column]) -> list[Any]:
    """The sort key a cursor holds, as Python values; ``BadCursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise BadCursor("not a cursor of this list") from exc
    if (
        not isinstance(values, list)
        or len(values) != len(cols)
        or not all(isinstance(value, str) for value in values)
    ):
        raise BadCursor("not a cursor of this list")
    try:
        return [col.field.to_python(value) for col, value in zip(cols, values, strict=True)]
    except (ValidationError, ValueError, TypeError) as exc:
        raise BadCursor("not a cursor of this list") from exc


def after(queryset: QuerySet[Any], cols: list[Column], values: list[Any]) -> QuerySet[Any]:
    """The rows of ``queryset`` that sort after ``values`` in the order ``cols`` give."""
    if any(value is None for value in values):
        return queryset.none()
    later = Q()
    for i, col in enumerate(cols):
        step = Q(**{f"{col.path}__{'lt' if col.descending else 'gt'}": values[i]})
        for earlier, value in zip(cols[:i], values[:i], strict=True):
            step &= Q(**{earlier.path: value})
        later |= step
    first = cols[0]
    bound = Q(**{f"{first.path}__{'lte' if first.descending else 'gte'}": values[0]})
    return queryset.filter(bound).filter(later)
