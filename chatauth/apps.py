from django.apps import AppConfig


class ChatauthConfig(AppConfig):
    name = "chatauth"
    verbose_name = "Clerk authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from chatauth.clerk import checks  # noqa: F401  (registers system checks)
