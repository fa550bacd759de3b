from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "threads"
    verbose_name = "Chat threads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every system check of the app is registered here, and only here.
        from threads import checks  # noqa: F401
        from threads.chat import checks as chat_checks  # noqa: F401
