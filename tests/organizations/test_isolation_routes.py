"""The tenant-isolation matrix covers every organization-scoped route.

tests/organizations/test_isolation.py proves, endpoint by endpoint, that an admin of one
organization gets 404 on another's objects. Its list of endpoints is kept by hand; this walk
derives the routes that need it from the URL resolver, so a new organization-scoped page or API
endpoint without a line in the matrix fails here, by name.

A route is organization-scoped when the URL names the organization: a parameter right after
``orgs/`` (the admin portal) or ``organizations/`` (the management API), or one called
``org_slug`` anywhere. SCIM picks the organization by its bearer token, not the URL, and the
SAML protocol endpoints under ``accounts/saml/`` by connection; their own tests cover those.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, path, resolve
from django.urls.resolvers import RegexPattern

from tests.organizations.test_isolation import ENDPOINTS, KINDS

# A parameter right after orgs/ or organizations/, or one named org_slug (path or regex syntax).
ORG_IN_URL = re.compile(
    r"(?:^|/)(?:orgs|organizations)/(?:<|\(\?P<)|<(?:\w+:)?org_slug>|\(\?P<org_slug>"
)


def routes(
    resolver: URLResolver, prefix: str = "", namespace: str = ""
) -> Iterator[tuple[str, str]]:
    """Every (route, view name) the resolver answers, routes written as Django's
    ``ResolverMatch.route`` writes them."""
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern).removeprefix("^") if prefix else str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern, route, inner)
        elif isinstance(pattern, URLPattern):
            yield route, f"{namespace}{pattern.name or pattern.lookup_str}"


def organization_scoped(resolver: URLResolver) -> dict[str, str]:
    """The organization-scoped routes, each with its view name."""
    return {route: name for route, name in routes(resolver) if ORG_IN_URL.search(route)}


def covered_routes(paths: Iterable[str]) -> set[str]:
    """The routes the matrix's paths resolve to."""
    return {resolve(p).route for p in paths}


# Kinds whose ids are not integers in the URL.
SAMPLE_IDS = {
    "audit_export": "00000000-0000-4000-8000-000000000001",
    "log_stream": "00000000-0000-4000-8000-000000000002",
    "audit_check": "00000000-0000-4000-8000-000000000003",
}


def matrix_paths() -> list[str]:
    """The matrix's endpoints as real paths: any slug and object ids resolve."""
    values = {"slug": "acme"} | {kind: 1 for kind in KINDS} | SAMPLE_IDS
    return [e.path.format(**values) for e in ENDPOINTS]


def missing_from_matrix(resolver: URLResolver, paths: Iterable[str]) -> list[str]:
    """The organization-scoped routes no path of the matrix reaches, as "name (route)"."""
    covered = covered_routes(paths)
    return sorted(
        f"{name} ({route})"
        for route, name in organization_scoped(resolver).items()
        if route not in covered
    )


def test_every_organization_scoped_route_is_in_the_isolation_matrix():
    missing = missing_from_matrix(get_resolver(), matrix_paths())
    assert not missing, (
        "Organization-scoped routes without tenant-isolation coverage; add each to ENDPOINTS "
        "in tests/organizations/test_isolation.py:\n  " + "\n  ".join(missing)
    )


def test_every_path_of_the_matrix_is_an_organization_scoped_route():
    # Keeps the walk honest: were routes spelled differently here than by the resolver, or the
    # rule above too narrow, this fails instead of the walk passing for nothing.
    scoped = organization_scoped(get_resolver())
    assert len(scoped) >= 40
    assert covered_routes(matrix_paths()) <= set(scoped)


def _view(request, **kwargs) -> HttpResponse:
    return HttpResponse()


def test_a_new_organization_scoped_route_missing_from_the_matrix_is_reported_by_name():
    real = get_resolver()
    extended = URLResolver(
        RegexPattern(r"^/"),
        [
            *real.url_patterns,
            path("orgs/<slug:slug>/reports/", _view, name="reports"),
            path("api/v1/organizations/<slug:org_slug>/webhooks/", _view, name="webhook-list"),
            path("api/v1/reports/<slug:org_slug>/", _view, name="report"),
            # Not organization-scoped: the organization is not in the URL.
            path("orgs/new/", _view, name="new-org"),
        ],
    )

    reported = set(missing_from_matrix(extended, matrix_paths()))
    assert reported - set(missing_from_matrix(real, matrix_paths())) == {
        "report (api/v1/reports/<slug:org_slug>/)",
        "webhook-list (api/v1/organizations/<slug:org_slug>/webhooks/)",
        "reports (orgs/<slug:slug>/reports/)",
    }
