from django.apps import AppConfig


class ChatauthConfig(AppConfig):
    name = "chatauth"
    verbose_name = "Clerk authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every system check of the app is registered here, and only here.
        from chatauth.clerk import checks  # noqa: F401
        from chatauth.cloud import checks as cloud_checks  # noqa: F401
