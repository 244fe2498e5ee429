"""Settings for progressproject, configured from the environment.

The embedded default needs no service: SQLite plus Channels' in-memory layer.
Setting DATABASE_URL (PostgreSQL) and REDIS_URL switches to PostgreSQL and
channels-redis with nothing else changed. README.md "Configuration" lists every
variable.
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import environ

from progress.conf import DEFAULTS as PROGRESS_DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# Off unless asked for: the run command (scripts/run.sh, make run) sets DJANGO_DEBUG=true.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The demo key only exists with DEBUG on; with DEBUG off a missing DJANGO_SECRET_KEY is a
# system check error (progressproject.E001), so check and daphne refuse to start.
DEMO_SECRET_KEY = "django-insecure-demo-key-change-me-in-production"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEMO_SECRET_KEY)
# Error pages and reports never show DATABASE_URL's or REDIS_URL's credentials.
DEFAULT_EXCEPTION_REPORTER_FILTER = "progressproject.reporting.CredentialsFilter"
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# HTTPS posture, off by default (the demo serves plain http on loopback); README
# "Running in production" sets them. check --deploy is clean with that environment.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
if env.bool("DJANGO_BEHIND_HTTPS_PROXY", default=False):
    # Only behind a proxy that sets (and strips client-sent) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)

INSTALLED_APPS = [
    "daphne",  # first, so runserver serves ASGI (HTTP and WebSocket)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_tasks_db",
    "axes",
    "progress",
    "curation",
    "progressproject.apps.ProjectConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ under daphne too (plain ASGI serves no static files).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes) for the login page, the admin and HTTP Basic on the API:
# after LOGIN_FAILURE_LIMIT failures for one username from one address, that pair is
# refused for LOGIN_COOLOFF_MINUTES. Locking the pair, not the username alone, keeps an
# attacker from locking a real user out everywhere. `manage.py axes_reset` unlocks.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("LOGIN_THROTTLE", default=True)
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The address axes locks by: the peer, or behind proxies listed in DJANGO_TRUSTED_PROXIES
# (addresses or networks, e.g. 10.0.0.5,10.1.0.0/16) the rightmost X-Forwarded-For hop that
# is not one of them. Never run daphne with --proxy-headers: it believes the leftmost hop,
# which the client writes. progress/client_address.py says why; the same rule keys anonymous
# sockets' connect limits (PROGRESS["TRUSTED_PROXIES"], set from this below).
TRUSTED_PROXIES = env.list("DJANGO_TRUSTED_PROXIES", default=[])
try:
    for _proxy in TRUSTED_PROXIES:
        ipaddress.ip_network(_proxy, strict=False)
except ValueError as exc:
    raise environ.ImproperlyConfigured(
        f"DJANGO_TRUSTED_PROXIES: {exc}; list addresses or networks, e.g. 10.0.0.5,10.1.0.0/16"
    ) from None
AXES_CLIENT_IP_CALLABLE = "progress.client_address.client_address"

ROOT_URLCONF = "progressproject.urls"
ASGI_APPLICATION = "progressproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the server read while a command writes; IMMEDIATE avoids lock-upgrade
    # deadlocks between the tracker's own connection and the pipeline's.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # The test database on a file, not Django's shared-cache in-memory one: the writer
    # thread and the test share it, and shared-cache locks fail at once ("database table is
    # locked") instead of waiting out the timeout as file locks do.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"progress-test-{os.getpid()}.sqlite3")
    }
else:
    # Snapshots on connect reuse a connection instead of opening one each time.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis' pub/sub layer with bounded queues: progress/layers.py says why.
            "BACKEND": env.str(
                "CHANNEL_LAYER_BACKEND", "progress.layers.BoundedRedisPubSubChannelLayer"
            ),
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        # redis-py 8 closes idle blocking reads without this
                        # (django/channels_redis#422): consumers died with 1011.
                        "socket_timeout": 15,
                        "socket_connect_timeout": 2,
                        # redis-py 8 caps a pool at 100; a burst of disconnects
                        # (group_discard each) raised MaxConnectionsError.
                        "max_connections": env.int("REDIS_MAX_CONNECTIONS", default=2000),
                    }
                ],
                # Progress is state: a client that falls behind loses its oldest messages
                # and is caught up by snapshot/resync, so a modest per-channel buffer is enough.
                "capacity": env.int("CHANNEL_CAPACITY", default=100),
                # Redis pub/sub channels ignore the database number in REDIS_URL: deployments
                # (or test runs) sharing one Redis keep apart by prefix.
                "prefix": env.str("CHANNEL_PREFIX", default="asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Django Tasks. "local": a thread pool inside the serving process (no services needed).
# "db": django-tasks-db; run `manage.py db_worker` processes (any number, any machine).
TASKS_BACKEND = env.str("TASKS_BACKEND", default="local")
TASK_BACKENDS = {
    "local": {
        "BACKEND": "django_tasks_local.ThreadPoolBackend",
        "OPTIONS": {"MAX_WORKERS": env.int("TASKS_MAX_WORKERS", default=4)},
    },
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
}
if TASKS_BACKEND not in TASK_BACKENDS:
    raise environ.ImproperlyConfigured(
        f"TASKS_BACKEND={TASKS_BACKEND!r}; use one of {', '.join(TASK_BACKENDS)}"
    )
TASKS = {"default": TASK_BACKENDS[TASKS_BACKEND]}

# Files runs own go through STORAGES[PROGRESS["STORAGE"]] ("default"): uploads under
# progress/uploads/, reports under progress/reports/ (PROGRESS["UPLOADS_FOLDER"] and
# ["REPORTS_FOLDER"]). Local files under MEDIA_ROOT by default; for
# db_workers on other machines, use a shared backend (e.g. django-storages' S3 storage).
# They are never served by URL: reports download through a visibility-checked view.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "var" / "media")
FILE_UPLOAD_HANDLERS = [
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "progress.files.ShortNameTemporaryFileUploadHandler",
]
# Scope sources must lie in this folder (checked when saved and when read).
CURATION_DATA_DIR = env.path("CURATION_DATA_DIR", default=BASE_DIR / "data")
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
# Compressed, not hashed: the ES modules import each other by relative path.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/progress/"

# Progress tracking; defaults and their meaning live in progress/conf.py. Any key can be
# set from the environment as PROGRESS_<KEY>, e.g. PROGRESS_STALL_TIMEOUT=30 or
# PROGRESS_SITE_URL=https://progress.example.org (where commands say a run's live page is).
# The API declares its own DRF classes: no REST_FRAMEWORK setting is needed.
PROGRESS = {
    key: type(default)(env.str(f"PROGRESS_{key}"))
    for key, default in PROGRESS_DEFAULTS.items()
    if f"PROGRESS_{key}" in env.ENVIRON
}
# One list of trusted proxies for login throttling and socket limits (see AXES above).
PROGRESS["TRUSTED_PROXIES"] = TRUSTED_PROXIES
# The upload limit keeps its older, shorter variable too: MAX_UPLOAD_BYTES=...
if "MAX_UPLOAD_BYTES" in env.ENVIRON:
    PROGRESS.setdefault("MAX_UPLOAD_BYTES", env.int("MAX_UPLOAD_BYTES"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "progress": {"handlers": ["console"], "level": env.str("PROGRESS_LOG_LEVEL", "INFO")},
        "curation": {"handlers": ["console"], "level": "INFO"},
    },
}
