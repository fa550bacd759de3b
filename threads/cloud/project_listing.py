"""The one cross-workspace read: `/v1/projects/threads` and `/v1/projects/threads/<id>/messages`.

Only an API-key caller (the project's own server, `Caller.via == "api_key"`) may call it; workspace tokens,
provider JWTs and anonymous identities are refused before this module is reached. One service is one project
(`CLOUD_PROJECT_ID`), so the project's threads are every thread in the database.

This module is exempt from the request-code scoping guard (tests/threads/test_scoping.py, PROJECT_WIDE): it
is the project-wide listing by definition, reads only (no writes), and is reached only through
`ProjectAccess` in the views. Nothing else may import it.
"""

from __future__ import annotations

from threads.models import Thread


def project_threads_page(*, archived: bool, limit: int, after: str | None) -> list[Thread]:
    """Every workspace's threads, newest activity first; `after` is the last id of the previous page."""
    threads = Thread.unscoped_for_operators.filter(is_archived=archived)
    if after:
        anchor = Thread.unscoped_for_operators.filter(id=after).values_list("last_message_at", "id").first()
        if anchor is not None:
            from django.db.models import Q

            at, pk = anchor
            threads = threads.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, id__lt=pk))
    return list(threads.order_by("-last_message_at", "-id")[:limit])


def project_thread(thread_id: str) -> Thread | None:
    return Thread.unscoped_for_operators.filter(id=thread_id).first()
