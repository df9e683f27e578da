"""WSGI entry point: the default, served by gunicorn sync workers (DESIGN.md §8)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
