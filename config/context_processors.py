from django.conf import settings
from django.http import HttpRequest


def gatehouse(request: HttpRequest) -> dict[str, str]:
    return {"product_name": settings.GATEHOUSE_PRODUCT_NAME}
