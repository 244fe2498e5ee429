"""The project as an app, so its system checks are registered with Django's."""

from __future__ import annotations

from django.apps import AppConfig


class ProjectConfig(AppConfig):
    name = "progressproject"
    verbose_name = "Progress demo project"

    def ready(self) -> None:
        from progressproject import checks  # noqa: F401  (registers the checks)
