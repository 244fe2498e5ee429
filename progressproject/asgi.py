"""ASGI entry: HTTP through Django; WebSockets through Channels with auth and origin checks."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "progressproject.settings")
# Set up Django (apps, models) before importing consumers.
django_asgi_app = get_asgi_application()

from progressproject.checks import refuse_to_serve_with_errors  # noqa: E402

# manage.py runs the system checks before commands; daphne does not. Without this, a
# production server would start with, say, the demo SECRET_KEY.
refuse_to_serve_with_errors()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from progress.origins import OriginValidator  # noqa: E402
from progress.routing import websocket_urlpatterns  # noqa: E402
from progress.start_guard import StartRequestGuard  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": StartRequestGuard(django_asgi_app),
        # Scheme, host and port: see progress/origins.py for the rule.
        "websocket": OriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
