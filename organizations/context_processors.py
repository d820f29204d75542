"""The brand of every page: an organization's on the steps of its sign-in
(organizations/branding/brand.py), the operator's everywhere else."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from organizations.branding.brand import is_sign_in_page, operator_brand, org_brand, sign_in_org


def branding(request: HttpRequest) -> dict[str, Any]:
    operator = operator_brand()
    # product_name: the operator's name (the admin's, else GATEHOUSE_PRODUCT_NAME).
    context: dict[str, Any] = {"brand": operator, "product_name": operator.name}
    org = sign_in_org(request) if is_sign_in_page(request) else None
    if org is not None:
        context.update(brand=org_brand(org, operator), brand_org=org)
    return context
