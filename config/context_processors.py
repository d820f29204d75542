from typing import Any

from django.conf import settings
from django.http import HttpRequest


def gatehouse(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)

    def pending_erasure() -> Any:
        # A callable, so the query runs only on pages that show the banner (account pages).
        if user is None or not user.is_authenticated:
            return None
        from consent.erasure import open_erasure

        return open_erasure(user)

    return {"product_name": settings.GATEHOUSE_PRODUCT_NAME, "pending_erasure": pending_erasure}
