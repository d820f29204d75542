"""Lists of users and groups (RFC 7644 §3.4.2): the request read from the query string (or a
``/.search`` body) by scim2-models, a filter turned into a query (``sso.scim.filters``), an
allow-listed order, and offset pages in a stable order.

``startIndex`` is 1-based; ``count`` is 100 unless asked, at most 200. Rows are always ordered
last by their primary key, so pages never overlap or skip. ``totalResults`` of an unfiltered
list is the directory's counter, never a ``COUNT(*)`` over a large directory (trap T12);
filtered lists count their matches, which ``eq`` filters find through unique indexes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from scim2_models import Context, InvalidPathException, SearchRequest
from scim2_models.path import FilterNode

DEFAULT_COUNT = 100
MAX_COUNT = 200
# Beyond this an offset is answered with an empty page rather than handed to the database.
MAX_START_INDEX = 2**31 - 1

# The query parameters of RFC 7644 §3.4.2 (names compared without case); others are ignored,
# as RFC 7644 §3.4.2 allows and Entra's "aadOptscim062020" flag needs.
PARAMETERS = {
    name.lower(): name
    for name in (
        "filter",
        "startIndex",
        "count",
        "sortBy",
        "sortOrder",
        "attributes",
        "excludedAttributes",
    )
}

USER_SORTS = {
    "username": "user_name_key",
    "externalid": "external_id",
    "meta.created": "created_at",
    "meta.lastmodified": "updated_at",
}
GROUP_SORTS = {
    "displayname": "display_name_key",
    "externalid": "external_id",
    "meta.created": "created_at",
    "meta.lastmodified": "updated_at",
}


def search_request(model: type[Any], query: Mapping[str, str]) -> SearchRequest[Any]:
    """The list request a query string (or a ``/.search`` body) makes, validated by
    scim2-models: a bad filter is ``invalidFilter``, a bad number ``invalidValue``."""
    data = {
        PARAMETERS[key.lower()]: value for key, value in query.items() if key.lower() in PARAMETERS
    }
    return SearchRequest[model].model_validate(data, scim_ctx=Context.SEARCH_REQUEST)  # type: ignore[valid-type]


@dataclass(frozen=True)
class Page:
    rows: list[Any]
    total: int
    start_index: int


def _ordering(request: SearchRequest[Any], sorts: Mapping[str, str], schema: str) -> list[str]:
    if request.sort_by is None:
        return ["pk"]
    name = str(request.sort_by).casefold().removeprefix(f"{schema}:")
    column = sorts.get(name)
    if column is None:
        raise InvalidPathException(
            path=str(request.sort_by), detail="Cannot sort on that attribute."
        )
    descending = request.sort_order == SearchRequest.SortOrder.descending
    return [f"-{column}" if descending else column, "-pk" if descending else "pk"]


def page(
    queryset: QuerySet[Any],
    request: SearchRequest[Any],
    *,
    to_q: Callable[[FilterNode], Q],
    sorts: Mapping[str, str],
    schema: str,
    unfiltered_total: Callable[[], int],
) -> Page:
    """One page of ``queryset`` (already scoped to the caller's directory)."""
    ordering = _ordering(request, sorts, schema)
    if request.filter is not None:
        queryset = queryset.filter(to_q(request.filter.ast))
        total: int | None = None
    else:
        total = unfiltered_total()
    start = min(request.start_index or 1, MAX_START_INDEX)
    count = DEFAULT_COUNT if request.count is None else min(request.count, MAX_COUNT)
    rows = list(queryset.order_by(*ordering)[start - 1 : start - 1 + count]) if count else []
    if total is None:
        total = queryset.count() if count == 0 or len(rows) == count or start > 1 else len(rows)
    return Page(rows=rows, total=total, start_index=start)
