"""System checks for this project's production posture."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_secret_key_is_set(**kwargs: Any) -> list[Error]:
    """With DEBUG off, refuse the demo SECRET_KEY: DJANGO_SECRET_KEY must be set."""
    if settings.DEBUG or settings.SECRET_KEY != settings.DEMO_SECRET_KEY:
        return []
    return [
        Error(
            "DJANGO_SECRET_KEY is not set, and DJANGO_DEBUG is false.",
            hint=(
                "Set DJANGO_SECRET_KEY to a long random value (e.g. the output of "
                "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`); "
                "keep it the same on every process. For the local demo, use `make run` "
                "(it sets DJANGO_DEBUG=true)."
            ),
            id="progressproject.E001",
        )
    ]


def refuse_to_serve_with_errors() -> None:
    """Run the system checks at server start; raise if any error, so daphne does not serve."""
    from django.core.checks import run_checks
    from django.core.exceptions import ImproperlyConfigured

    errors = [m for m in run_checks() if m.is_serious()]
    if errors:
        raise ImproperlyConfigured(
            "Refusing to serve: " + "; ".join(f"{e.msg} {e.hint or ''}".strip() for e in errors)
        )


def register_preflight() -> None:
    """`manage.py preflight` names this project's variables (DATABASE_URL, REDIS_URL)."""
    from progress import preflight as progress_preflight
    from progressproject import preflight

    progress_preflight.register("database", preflight.database_problem)
    progress_preflight.register("channel_layer", preflight.redis_problem)


register_preflight()
