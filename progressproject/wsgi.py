"""WSGI entry point (HTTP only; WebSockets need the ASGI app under daphne)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "progressproject.settings")
application = get_wsgi_application()
