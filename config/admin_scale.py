"""What every changelist shares so that it answers as fast at ten million rows as at ten
thousand (docs/performance.md, "The admin at scale").

Django's changelist, left alone, costs more as a table grows: its paginator runs ``COUNT(*)``
over the filtered rows, "N total" counts the whole table again, facets count each filter
choice, a deep page is an ``OFFSET`` that reads every row before it, and ``search_fields``
becomes ``icontains`` on every row. Here:

- ``EstimatedCountPaginator`` asks PostgreSQL's planner how many rows the filtered list has
  (``EXPLAIN``, which reads statistics, never the table); only when the planner expects a small
  number does it count, and then at most ``COUNT_CAP`` rows. The page says "about" when the
  number is an estimate. On SQLite (embedded mode) it counts, as Django does.
- ``ScaledChangeList`` numbers the first ``NUMBERED_PAGES`` pages; past them (and from any page)
  "Next" carries a keyset cursor (config/keyset.py) on the list's sort columns and the primary
  key, so page 900 costs what page 1 costs.
- ``ScaledAdminMixin`` puts those in place, turns off the full count and facets, and routes the
  search box to indexed lookups: an address finds its person by exact address, a public id by
  equality, anything else by prefix (accounts/search.py); never a substring.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest
from django.utils.functional import cached_property

from config import keyset

# Below this many rows (as the planner expects them) the list is counted exactly, and the
# count reads at most this many rows.
COUNT_CAP = 10_000
# Pages reached by number; later ones by "Next" (a keyset cursor).
NUMBERED_PAGES = 20
CURSOR_VAR = "after"


def planner_rows(queryset: QuerySet[Any]) -> int:
    """How many rows PostgreSQL's planner expects ``queryset`` to return (statistics only)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a large table: the planner's estimate above
    ``COUNT_CAP`` rows, a count that stops at the cap below it. ``estimated`` says which."""

    estimated = False

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet) or connections[rows.db].vendor != "postgresql":
            return super().count  # SQLite in embedded mode: small, counted as Django does
        if rows.query.is_empty():
            return 0
        expected = planner_rows(rows)
        if expected < COUNT_CAP:
            counted = int(rows.order_by()[:COUNT_CAP].count())
            if counted < COUNT_CAP:
                return counted
        self.estimated = True
        return max(expected, COUNT_CAP)

    @cached_property
    def num_pages(self) -> int:
        pages = super().num_pages
        return min(pages, NUMBERED_PAGES) if self.estimated else pages


class ScaledChangeList(ChangeList):
    """A changelist whose deep pages are keyset pages (``?after=<cursor>``); see the module."""

    cursor: str | None = None
    next_cursor: str | None = None
    scaled = True

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.cursor = request.GET.get(CURSOR_VAR) or None
        super().__init__(request, *args, **kwargs)

    def get_filters_params(self, params: Any = None) -> Any:
        lookup = super().get_filters_params(params)
        lookup.pop(CURSOR_VAR, None)
        return lookup

    def get_query_string(self, new_params: Any = None, remove: Any = None) -> str:
        # Sorting, filtering and numbered pages start again from the top.
        new_params = dict(new_params or {})
        remove = list(remove or [])
        if CURSOR_VAR not in new_params:
            remove.append(CURSOR_VAR)
        return super().get_query_string(new_params, remove)

    @property
    def count_is_estimate(self) -> bool:
        return bool(getattr(self.paginator, "estimated", False))

    def get_results(self, request: HttpRequest) -> None:
        cols = keyset.columns(self.model, list(self.queryset.query.order_by))
        if self.cursor is None or cols is None:
            super().get_results(request)
            if cols is not None and self.multi_page and not self.show_all:
                rows = list(self.result_list)
                more = self.page_num < self.paginator.num_pages or self.count_is_estimate
                if rows and more:
                    self.next_cursor = keyset.token(rows[-1], cols)
            return
        try:
            start = keyset.parse(self.cursor, cols)
        except keyset.BadCursor:
            start = None
        paginator = self.model_admin.get_paginator(request, self.queryset, self.list_per_page)
        rows = (
            list(keyset.after(self.queryset, cols, start)[: self.list_per_page + 1])
            if start is not None
            else []
        )
        page = rows[: self.list_per_page]
        self.next_cursor = keyset.token(page[-1], cols) if len(rows) > len(page) else None
        self.result_count = paginator.count
        self.full_result_count = None
        self.show_full_result_count = False
        self.show_admin_actions = True
        self.result_list = page  # type: ignore[assignment]
        self.can_show_all = False
        # No numbered page is the current one: the template offers "First" and "Next".
        self.multi_page = False
        self.paginator = paginator

    @property
    def first_url(self) -> str | None:
        return self.get_query_string(remove=["p"]) if self.cursor is not None else None

    @property
    def next_url(self) -> str | None:
        if self.next_cursor is None:
            return None
        return self.get_query_string({CURSOR_VAR: self.next_cursor}, remove=["p"])


class OrganizationIdFilter(admin.SimpleListFilter):
    """Rows of one organization by id (``?organization=42``), on an index that leads with
    organization_id. Offers no list of organizations, which would be a query over all of them;
    links from an organization's admin page set it."""

    title = "organization"
    parameter_name = "organization"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, f"#{value}")] if value and value.isdigit() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(organization_id=int(value)) if value.isdigit() else queryset.none()


class ScaledAdminMixin:
    """For every ModelAdmin over a table that grows: estimated counts, keyset deep pages, no
    facets or full count, and a search box routed to indexes.

    Search: ``search_user_path`` names the path to the person a row belongs to (``"user"``,
    ``"pk"`` on the users' own list): an address, a public id or a prefix finds the rows of the
    people it names (accounts/search.py). ``search_exact_fields`` are matched exactly (public
    ids, client ids, slugs); ``search_prefix_fields`` by case-insensitive prefix on a column
    whose index serves it (stored lower-case, ``varchar_pattern_ops``);
    ``search_name_prefix_fields`` by prefix of ``lower(column)``, for columns kept as typed
    (names) that have a ``lower(column) text_pattern_ops`` index. ``search_fields`` only
    decides whether the box is shown.
    """

    paginator: ClassVar[type] = EstimatedCountPaginator
    show_full_result_count: ClassVar[bool] = False
    show_facets: ClassVar[admin.ShowFacets] = admin.ShowFacets.NEVER
    date_hierarchy: ClassVar[str | None] = None
    search_user_path: str | None = None
    search_exact_fields: tuple[str, ...] = ()
    search_prefix_fields: tuple[str, ...] = ()
    search_name_prefix_fields: tuple[str, ...] = ()

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return ScaledChangeList

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        from accounts.search import MAX_TERM, as_uuid, is_address, user_ids_matching

        term = search_term.strip()[:MAX_TERM]
        if not term:
            return queryset, False
        wanted = Q(pk__in=[])
        if self.search_user_path:
            wanted |= Q(**{f"{self.search_user_path}__in": user_ids_matching(term)})
        for path in self.search_exact_fields:
            value = _exact_value(queryset.model, path, term, as_uuid)
            if value is not None:
                wanted |= Q(**{path: value})
        if not is_address(term):
            for path in self.search_prefix_fields:
                wanted |= Q(**{f"{path}__startswith": term.lower()})
            for i, path in enumerate(self.search_name_prefix_fields):
                queryset = queryset.alias(**{f"_name_key{i}": Lower(path)})
                wanted |= Q(**{f"_name_key{i}__startswith": term.lower()})
        return queryset.filter(wanted), False


def _exact_value(model: Any, path: str, term: str, as_uuid: Any) -> Any:
    """``term`` as the value of the field at ``path``, or None when it cannot be one (a word
    for a UUID column, letters for an integer): such a branch is left out, not an error."""
    field = keyset._field(model, path)
    if field is None:
        return None
    kind = field.get_internal_type()
    if kind == "UUIDField":
        return as_uuid(term)
    if kind in {"AutoField", "BigAutoField", "IntegerField", "BigIntegerField"}:
        return int(term) if term.isascii() and term.isdigit() and len(term) < 19 else None
    return term
