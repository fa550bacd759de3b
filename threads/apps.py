from typing import Any

from django.apps import AppConfig


class ThreadsConfig(AppConfig):
    name = "threads"
    verbose_name = "Chat threads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every system check of the app is registered here, and only here.
        from threads import checks  # noqa: F401
        from threads.chat import checks as chat_checks  # noqa: F401

        # The faces' reactions to core events (threads.signals) are wired here: the core never imports a face.
        from threads.signals import message_resent

        message_resent.connect(stop_on_resent_reply, dispatch_uid="threads.chat.stops")


def stop_on_resent_reply(sender: type, message: Any, content: Any = None, **kwargs: Any) -> None:
    """A client saved a reply that is being generated: that save is its stop (see threads.chat.stops)."""
    from threads.chat.stops import client_saved_reply

    client_saved_reply(message, content)
