from django.apps import AppConfig


class ExampleAppConfig(AppConfig):
    name = "exampleapp"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from exampleapp import tasks  # noqa: F401  (registers the tracked task)
