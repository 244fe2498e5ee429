from django.apps import AppConfig


class CurationConfig(AppConfig):
    name = "curation"
    verbose_name = "Gene curation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Register the curation operations as launchable pipelines (@tracked_task)."""
        from curation import tasks  # noqa: F401
