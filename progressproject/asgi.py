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

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from progress.origins import OriginValidator  # noqa: E402
from progress.routing import websocket_urlpatterns  # noqa: E402
from progress.server import ServerServices, defer_autobahn_debug_formatting  # noqa: E402
from progress.start_guard import StartRequestGuard  # noqa: E402
from progress.wsauth import SessionUserMiddlewareStack  # noqa: E402

# Under daphne, autobahn is imported by now; see the function for the 15 % it saves.
defer_autobahn_debug_formatting()

# ServerServices starts the process-wide services (relay, stall sweep, broadcast watch)
# once: at lifespan start-up, or with the first scope under daphne (no lifespan there).
application = ServerServices(
    ProtocolTypeRouter(
        {
            "http": StartRequestGuard(django_asgi_app),
            # Scheme, host and port: see progress/origins.py for the rule. The user comes
            # from the session cookie, looked up in batches (progress/wsauth.py).
            "websocket": OriginValidator(
                SessionUserMiddlewareStack(URLRouter(websocket_urlpatterns))
            ),
        }
    )
)
