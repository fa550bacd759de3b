from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "threads"
    verbose_name = "Chat threads"
    default_auto_field = "django.db.models.BigAutoField"
