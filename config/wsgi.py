import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

from config.checks import refuse_to_start_if_unsafe  # noqa: E402  (needs the apps loaded)

refuse_to_start_if_unsafe()
