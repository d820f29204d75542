"""Reads on the token endpoint's hot path, compiled to SQL once per process.

Building a query through the ORM costs more CPU than PostgreSQL takes to answer it: about
1 ms for the refresh token with its access token, person and API, against 0.1 ms to run the
same SQL. A ``CompiledRead`` asks the ORM once for the statement and for how its rows become
model instances (the converters and related-object populators Django's own iterator uses),
then, per request, only runs the statement and builds the instances.

The query is written with ``Param`` placeholders where request values go; they become
parameters of the statement, found again by value in the compiled parameter list. A
``values()`` query gives dicts keyed by its names instead of instances.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators


@dataclass(frozen=True)
class Param:
    """A placeholder for a request value: a text or an integer column."""

    name: str
    kind: type = str

    def sentinel(self, index: int) -> Any:
        # Values no real request sends, and distinct, so each is found in the parameters.
        if self.kind is int:
            return -(2**62) - index
        return f"\x1fgatehouse-compiled-param-{index}-{self.name}"


@dataclass
class _Plan:
    sql: str
    params: list[Any]
    slots: dict[int, str]  # position in params -> Param name
    model: type[Model] | None  # None for a values() query: rows become dicts of ``names``
    names: list[str]
    init_list: list[str]
    start: int
    end: int
    converters: list[tuple[int, tuple[list[Any], Any]]]
    populators: list[Any]
    annotations: dict[str, int]


class CompiledRead:
    """A query's rows as model instances (with their ``select_related`` ones and annotations),
    or as dicts for a ``values()`` query, from a statement compiled on first use."""

    def __init__(self, build: Callable[..., QuerySet[Any]], *params: Param) -> None:
        self.build = build
        self.params = params
        self._plans: dict[tuple[str, bool], _Plan] = {}
        self._lock = threading.Lock()

    def first(self, using: str = "default", **values: Any) -> Any:
        """The first row as a model instance with its related ones, or None."""
        rows = self._run(using, values, limit=True)
        return rows[0] if rows else None

    def all(self, using: str = "default", **values: Any) -> list[Any]:
        """Every row, each a model instance with its related ones."""
        return self._run(using, values, limit=False)

    def _run(self, using: str, values: dict[str, Any], *, limit: bool) -> list[Any]:
        plan = self._plans.get((using, limit)) or self._compile(using, limit)
        connection = connections[using]
        params = list(plan.params)
        for position, name in plan.slots.items():
            params[position] = values[name]
        with connection.cursor() as cursor:
            cursor.execute(plan.sql, params)
            fetched = cursor.fetchall()
        return [self._instance(plan, list(row), using, connection) for row in fetched]

    @staticmethod
    def _instance(plan: _Plan, row: list[Any], using: str, connection: Any) -> Any:
        for position, (converters, expression) in plan.converters:
            value = row[position]
            for convert in converters:
                value = convert(value, expression, connection)
            row[position] = value
        if plan.model is None:
            return dict(zip(plan.names, row, strict=True))
        obj = plan.model.from_db(using, plan.init_list, row[plan.start : plan.end])
        for populator in plan.populators:
            populator.populate(row, obj)
        for name, position in plan.annotations.items():
            setattr(obj, name, row[position])
        return obj

    def _compile(self, using: str, limit: bool) -> _Plan:
        with self._lock:
            if (using, limit) in self._plans:
                return self._plans[(using, limit)]
            sentinels = {p.name: p.sentinel(i) for i, p in enumerate(self.params)}
            queryset = self.build(**sentinels)
            if limit:
                queryset = queryset[:1]
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            by_value = {value: name for name, value in sentinels.items()}
            slots = {
                i: by_value[value]
                for i, value in enumerate(params)
                if _is_sentinel(value, by_value)
            }
            if sorted(set(slots.values())) != sorted(sentinels):
                raise ValueError("a Param did not reach the compiled statement as a parameter")
            select, klass_info = compiler.select, compiler.klass_info
            converters = list(compiler.get_converters([s[0] for s in select]).items())
            query = queryset.query
            if query.values_select:  # values(): dicts keyed as Django's ValuesIterable keys them
                plan = _Plan(
                    sql=sql,
                    params=list(params),
                    slots=slots,
                    model=None,
                    names=[*query.extra_select, *query.values_select, *query.annotation_select],
                    init_list=[],
                    start=0,
                    end=0,
                    converters=converters,
                    populators=[],
                    annotations={},
                )
            else:
                fields = klass_info["select_fields"]
                start, end = fields[0], fields[-1] + 1
                plan = _Plan(
                    sql=sql,
                    params=list(params),
                    slots=slots,
                    model=klass_info["model"],
                    names=[],
                    init_list=[f[0].target.attname for f in select[start:end]],
                    start=start,
                    end=end,
                    converters=converters,
                    # Django 5.2's signature (the type stubs describe a later one).
                    populators=get_related_populators(klass_info, select, using),  # type: ignore[call-arg]
                    annotations=dict(compiler.annotation_col_map or {}),
                )
            self._plans[(using, limit)] = plan
            return plan


def _is_sentinel(value: Any, sentinels: Mapping[Any, str]) -> bool:
    try:
        return value in sentinels
    except TypeError:  # an unhashable parameter (a list) is never a placeholder
        return False
