from django.apps import AppConfig


class ProgressConfig(AppConfig):
    name = "progress"
    verbose_name = "Progress tracking"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from progress import checks  # noqa: F401  (registers the system checks)
        from progress.runtime import logcapture

        # Once, after LOGGING is configured: tracked blocks attach records to their runs.
        logcapture.install()
