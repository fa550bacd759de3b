"""What the chat-data core tells the faces, without knowing them.

`threads.services` is the core every face calls; it must not import a face. Where a face needs to react to
a core event, the core sends a signal and the face connects to it in `ThreadsConfig.ready()` (the one place
that wires the parts together).
"""

from __future__ import annotations

from django.dispatch import Signal

message_resent = Signal()
"""A client appended a message whose id is already stored (`message_append` returns the stored one).

Sent with `message=` the stored `Message` and `content=` what the client sent this time. The chat face uses
it: assistant-ui's history adapter saves a reply right after the user stopped it, under the id of the reply
still being generated, so that save is a stop.
Receivers must not raise (the append answers regardless).
"""
