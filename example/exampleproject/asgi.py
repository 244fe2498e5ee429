import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "exampleproject.settings")
django_asgi_app = get_asgi_application()  # sets Django up before the app's imports

from progress.asgi import progress_application  # noqa: E402

application = progress_application(django_asgi_app)
