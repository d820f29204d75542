"""SCIM filters (RFC 7644 §3.4.2.2) as Django queries, over an allow-list of stored columns.

scim2-models parses and validates every filter (``SearchRequest``: its grammar, the attribute
names against the schema, the value types); ``to_q`` walks the tree it gives with the
library's ``FilterVisitor`` and turns each comparison into a condition on an indexed column.
An attribute or operator outside the allow-list is ``invalidFilter``: a condition is never
dropped, so a filter can never match more than it says (trap T4). Values only ever become
query parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils.dateparse import parse_datetime
from scim2_models import InvalidFilterException, InvalidValueException
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    FilterVisitor,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from sso.scim import documents
from sso.scim.models import ScimGroupMember

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:user"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:group"

EQUALITY = frozenset({CompareOperator.eq, CompareOperator.ne})
ORDERING = frozenset(
    {CompareOperator.gt, CompareOperator.ge, CompareOperator.lt, CompareOperator.le}
)
TEXT = frozenset({CompareOperator.sw, CompareOperator.co, CompareOperator.ew})
_LOOKUPS = {
    CompareOperator.sw: "startswith",
    CompareOperator.co: "contains",
    CompareOperator.ew: "endswith",
    CompareOperator.gt: "gt",
    CompareOperator.ge: "gte",
    CompareOperator.lt: "lt",
    CompareOperator.le: "lte",
}


def _nothing() -> Q:
    return Q(pk__in=[])


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidFilterException(detail="The value must be a string.")
    if "\x00" in value:
        raise InvalidValueException(detail="A value cannot hold a NUL character.")
    return value


def _moment(value: Any) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(parsed, datetime) or parsed.tzinfo is None:
        raise InvalidFilterException(detail="The value must be a dateTime with a time zone.")
    return parsed


def _id(op: CompareOperator, value: Any) -> Q:
    parsed = documents.parse_id(_text(value))
    return Q(public_id=parsed) if parsed else _nothing()


def _keyed(column: str, key: Callable[[str], str]) -> Callable[[CompareOperator, Any], Q]:
    """A text attribute compared through its stored comparison key."""

    def compare(op: CompareOperator, value: Any) -> Q:
        prepared = key(_text(value))
        return Q(**{column if op in EQUALITY else f"{column}__{_LOOKUPS[op]}": prepared})

    return compare


def _exact(column: str) -> Callable[[CompareOperator, Any], Q]:
    return lambda op, value: Q(**{column: _text(value)})


def _moment_column(column: str) -> Callable[[CompareOperator, Any], Q]:
    def compare(op: CompareOperator, value: Any) -> Q:
        lookup = column if op in EQUALITY else f"{column}__{_LOOKUPS[op]}"
        return Q(**{lookup: _moment(value)})

    return compare


def _boolean(column: str) -> Callable[[CompareOperator, Any], Q]:
    def compare(op: CompareOperator, value: Any) -> Q:
        if not isinstance(value, bool):
            raise InvalidFilterException(detail="The value must be true or false.")
        return Q(**{column: value})

    return compare


def _user_email(op: CompareOperator, value: Any) -> Q:
    # The work address is kept in a column of its own (lower case, indexed); any other
    # address is looked for in the stored document, as sent. SQLite (the embedded mode) has
    # no JSON containment, and a filter that looked at work addresses only would find less
    # than it says: there, only emails[type eq "work"].value is offered.
    if not connection.features.supports_json_field_contains:
        raise InvalidFilterException(detail="emails.value needs PostgreSQL; use the work address.")
    text = _text(value)
    return Q(work_email=text.lower()) | Q(document__emails__contains=[{"value": text}])


def _work_email(op: CompareOperator, value: Any) -> Q:
    return Q(work_email=_text(value).lower())


def _group_member(op: CompareOperator, value: Any) -> Q:
    parsed = documents.parse_id(_text(value))
    if parsed is None:
        return _nothing()
    return Q(
        Exists(ScimGroupMember.objects.filter(group=OuterRef("pk"), scim_user__public_id=parsed))
    )


class Rule:
    """How one attribute is filtered: the operators allowed and the condition they make.
    ``present`` is the condition for ``pr`` (None: ``pr`` is not allowed)."""

    def __init__(
        self,
        compare: Callable[[CompareOperator, Any], Q],
        operators: frozenset[CompareOperator] = EQUALITY,
        present: Q | None = None,
    ) -> None:
        self.compare = compare
        self.operators = operators
        self.present = present


USER_RULES: dict[str, Rule] = {
    "id": Rule(_id),
    "username": Rule(
        _keyed("user_name_key", documents.user_name_key),
        EQUALITY | TEXT,
        Q(user_name_key__isnull=False),
    ),
    "externalid": Rule(_exact("external_id"), present=Q(external_id__isnull=False)),
    "displayname": Rule(_keyed("display_name__iexact", str), present=~Q(display_name="")),
    "active": Rule(_boolean("active")),
    "emails.value": Rule(_user_email, frozenset({CompareOperator.eq})),
    "meta.lastmodified": Rule(_moment_column("updated_at"), EQUALITY | ORDERING),
    "meta.created": Rule(_moment_column("created_at"), EQUALITY | ORDERING),
}
GROUP_RULES: dict[str, Rule] = {
    "id": Rule(_id),
    "displayname": Rule(
        _keyed("display_name_key", documents.group_name_key),
        EQUALITY | TEXT,
        Q(display_name_key__isnull=False),
    ),
    "externalid": Rule(_exact("external_id"), present=Q(external_id__isnull=False)),
    "members.value": Rule(_group_member, frozenset({CompareOperator.eq})),
    "meta.lastmodified": Rule(_moment_column("updated_at"), EQUALITY | ORDERING),
    "meta.created": Rule(_moment_column("created_at"), EQUALITY | ORDERING),
}


class QueryBuilder(FilterVisitor[Q]):
    """A filter tree as a ``Q`` over the allow-listed attributes of one resource type."""

    def __init__(self, rules: dict[str, Rule], schema: str) -> None:
        self.rules = rules
        self.schema = schema

    def _name(self, path: AttrPath, prefix: str = "") -> str:
        if path.uri is not None and path.uri.casefold() != self.schema:
            raise InvalidFilterException(detail=f"Filtering on {path} is not supported.")
        name = f"{prefix}{path.attr}" + (f".{path.sub_attr}" if path.sub_attr else "")
        return name.casefold()

    def _rule(self, name: str) -> Rule:
        rule = self.rules.get(name)
        if rule is None:
            raise InvalidFilterException(detail=f"Filtering on {name} is not supported.")
        return rule

    def visit_comparison(self, node: Comparison) -> Q:
        return self._compare(self._name(node.attr_path), node.op, node.value)

    def _compare(self, name: str, op: CompareOperator, value: Any) -> Q:
        rule = self._rule(name)
        if op not in rule.operators:
            raise InvalidFilterException(detail=f"'{op.value}' is not supported on {name}.")
        condition = rule.compare(op, value)
        return ~condition if op == CompareOperator.ne else condition

    def visit_present(self, node: Present) -> Q:
        name = self._name(node.attr_path)
        rule = self._rule(name)
        if rule.present is None:
            raise InvalidFilterException(detail=f"'pr' is not supported on {name}.")
        return rule.present

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        conditions = [self.visit(term) for term in node.terms]
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = (
                combined & condition if node.op == LogicalOperator.and_ else combined | condition
            )
        return combined

    def visit_value_path(self, node: ValuePath) -> Q:
        """``emails[type eq "work" and value eq "…"]`` (what Entra's
        ``emails[type eq "work"].value eq "…"`` parses to), ``emails[value eq "…"]`` and
        ``members[value eq "…"]``: the only selections with a column behind them."""
        outer = self._name(node.attr_path)
        terms = _conjunction(node.val_filter)
        value = [t for t in terms if t.attr_path.attr.casefold() == "value"]
        kinds = [t for t in terms if t.attr_path.attr.casefold() == "type"]
        if len(value) != 1 or len(value) + len(kinds) != len(terms) or len(kinds) > 1:
            raise InvalidFilterException(detail=f"This selection on {outer} is not supported.")
        if kinds:
            kind = kinds[0]
            is_work = isinstance(kind.value, str) and kind.value.casefold() == "work"
            if outer != "emails" or kind.op != CompareOperator.eq or not is_work:
                raise InvalidFilterException(detail=f"This selection on {outer} is not supported.")
            if value[0].op != CompareOperator.eq:
                raise InvalidFilterException(detail="Only 'eq' is supported on emails.value.")
            return _work_email(value[0].op, value[0].value)
        return self._compare(f"{outer}.value", value[0].op, value[0].value)


def _conjunction(node: FilterNode) -> list[Comparison]:
    """The comparisons of a value filter made only of comparisons joined by ``and``."""
    if (
        isinstance(node, Comparison)
        and node.attr_path.sub_attr is None
        and node.attr_path.uri is None
    ):
        return [node]
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        return [comparison for term in node.terms for comparison in _conjunction(term)]
    raise InvalidFilterException(detail="This selection is not supported.")


def user_filter(tree: FilterNode) -> Q:
    return QueryBuilder(USER_RULES, USER_SCHEMA).visit(tree)


def group_filter(tree: FilterNode) -> Q:
    return QueryBuilder(GROUP_RULES, GROUP_SCHEMA).visit(tree)
