from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "threads"
    verbose_name = "Chat threads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from threads.chat import checks  # noqa: F401  (registers system checks)
