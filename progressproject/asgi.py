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

from progress.asgi import progress_application  # noqa: E402
from progress.daphne_tuning import tune_daphne  # noqa: E402

# Under daphne, Twisted and autobahn are imported by now: cheaper handshakes and frames
# (progress/daphne_tuning.py says what each fix saves).
tune_daphne()

# HTTP (behind the upload guard) and the progress sockets (Origin check, session login),
# plus the process-wide services, started once (see progress/asgi.py).
application = progress_application(django_asgi_app)
