"""Chat threads and messages, owned by a workspace (a user, or an organization member)."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from chatauth.caller import Workspace
from threads.scoping import WorkspaceScopedManager

MESSAGE_STATUSES = ("complete", "incomplete", "in_progress", "stopped")


def new_thread_id() -> str:
    """128 random bits: thread ids are unguessable, so an id alone reveals nothing."""
    return "thr_" + secrets.token_urlsafe(16)


class ThreadQuerySet(models.QuerySet["Thread"]):
    def active(self) -> ThreadQuerySet:
        return self.filter(is_archived=False)

    def archived(self) -> ThreadQuerySet:
        return self.filter(is_archived=True)

    def newest_activity_first(self) -> ThreadQuerySet:
        return self.order_by("-last_message_at", "-id")


class ThreadManager(WorkspaceScopedManager.from_queryset(ThreadQuerySet)):  # type: ignore[misc]
    workspace_lookup = "workspace_key"


class Thread(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_thread_id, editable=False)
    workspace_key = models.CharField(max_length=255, editable=False)
    org_id = models.CharField(max_length=128, null=True, blank=True, editable=False)
    user_id = models.CharField(max_length=128, editable=False)
    title = models.CharField(max_length=500, null=True, blank=True)
    is_archived = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField(db_default=models.functions.Now())

    objects = ThreadManager()
    unscoped_for_operators = models.Manager.from_queryset(ThreadQuerySet)()

    class Meta:
        default_manager_name = "objects"
        indexes = [
            # The workspace's thread list: equality on (workspace, archived), range on the sort key.
            models.Index(fields=["workspace_key", "is_archived", "-last_message_at", "-id"], name="thread_ws_list_idx"),
            models.Index(fields=["org_id"], name="thread_org_idx"),
            models.Index(fields=["user_id"], name="thread_user_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace_key", "external_id"],
                condition=Q(external_id__isnull=False),
                name="thread_external_id_unique_per_workspace",
            ),
        ]

    def __str__(self) -> str:
        return self.title or self.id

    @property
    def workspace(self) -> Workspace:
        """The workspace that owns this thread, for scoped follow-up queries."""
        return Workspace(user_id=self.user_id, org_id=self.org_id)


class MessageManager(WorkspaceScopedManager):
    workspace_lookup = "thread__workspace_key"


class Message(models.Model):
    """One node of a thread's message tree. `message_id` is the client-visible id, unique per thread."""

    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="messages")
    message_id = models.CharField(max_length=128)
    parent = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="children")
    height = models.PositiveIntegerField(default=0)
    format = models.CharField(max_length=64)
    role = models.CharField(max_length=32, blank=True, default="")
    content = models.JSONField()
    status = models.CharField(max_length=32, default="complete")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped_for_operators = models.Manager()
    objects = MessageManager()

    class Meta:
        default_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["thread", "message_id"], name="message_id_unique_per_thread"),
        ]
        indexes = [models.Index(fields=["thread", "height", "created_at"], name="message_tree_idx")]

    def __str__(self) -> str:
        return self.message_id

    @staticmethod
    def new_id() -> str:
        return "msg_" + secrets.token_urlsafe(16)

    @property
    def parent_message_id(self) -> str | None:
        return self.parent.message_id if self.parent_id else None


class MessageFeedbackManager(WorkspaceScopedManager):
    workspace_lookup = "message__thread__workspace_key"


class RunReportManager(WorkspaceScopedManager):
    workspace_lookup = "thread__workspace_key"


class MessageFeedback(models.Model):
    """A thumbs up/down on a message, as the assistant-cloud client sends it."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="feedback")
    # Who gave it: one feedback per (message, user); a repeat updates it.
    user_id = models.CharField(max_length=128, default="", editable=False)
    type = models.CharField(max_length=16)
    comment = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped_for_operators = models.Manager()
    objects = MessageFeedbackManager()

    class Meta:
        default_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["message", "user_id"], name="feedback_one_per_user_message"),
        ]

    def __str__(self) -> str:
        return f"{self.type} on {self.message_id}"


class RunReport(models.Model):
    """Telemetry for one assistant run (`POST /v1/runs`), kept for the admin."""

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="run_reports")
    status = models.CharField(max_length=32)
    model_id = models.CharField(max_length=200, null=True, blank=True)
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    unscoped_for_operators = models.Manager()
    objects = RunReportManager()

    class Meta:
        default_manager_name = "objects"
        indexes = [models.Index(fields=["thread", "created_at"], name="runreport_thread_idx")]

    def __str__(self) -> str:
        return self.id


# --- /v1 attachments, scores, run leases ----------------------------------------------------------------------


def new_file_id() -> str:
    return "file_" + secrets.token_urlsafe(16)


class AttachmentManager(WorkspaceScopedManager):
    workspace_lookup = "workspace_key"


class Attachment(models.Model):
    """An uploaded file of a workspace (`POST /v1/files/attachments/...`); the bytes live in Django storage.

    `thread` is set once a message of that thread references the file; the file is deleted with the thread.
    `status`: `pending` (upload URL issued), `ready` (bytes stored and checked), `rejected` (checks failed).
    """

    id = models.CharField(primary_key=True, max_length=64, default=new_file_id, editable=False)
    workspace_key = models.CharField(max_length=255, editable=False)
    org_id = models.CharField(max_length=128, null=True, blank=True, editable=False)
    user_id = models.CharField(max_length=128, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, default="pending")
    storage_key = models.CharField(max_length=500, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    uploaded_at = models.DateTimeField(null=True, blank=True)

    unscoped_for_operators = models.Manager()
    objects = AttachmentManager()

    class Meta:
        default_manager_name = "objects"
        indexes = [
            models.Index(fields=["workspace_key", "status"], name="attachment_ws_idx"),
            models.Index(fields=["user_id"], name="attachment_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.id})"

    @property
    def workspace(self) -> Workspace:
        return Workspace(user_id=self.user_id, org_id=self.org_id)


class ScoreManager(WorkspaceScopedManager):
    workspace_lookup = "workspace_key"


class Score(models.Model):
    """`POST /v1/scores`: one score per (user, target, name), where the target is a message, a thread or a run;
    a repeat updates it."""

    workspace_key = models.CharField(max_length=255, editable=False)
    user_id = models.CharField(max_length=128, editable=False)
    target = models.CharField(max_length=400, editable=False)
    name = models.CharField(max_length=200)
    data_type = models.CharField(max_length=16)
    value = models.FloatField(null=True, blank=True)
    string_value = models.CharField(max_length=1000, null=True, blank=True)
    comment = models.TextField(null=True, blank=True)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, null=True, blank=True, related_name="scores")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, null=True, blank=True, related_name="scores")
    run_id = models.CharField(max_length=128, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    unscoped_for_operators = models.Manager()
    objects = ScoreManager()

    class Meta:
        default_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace_key", "user_id", "target", "name"], name="score_one_per_user_target_name"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} on {self.target}"


class RunLeaseManager(WorkspaceScopedManager):
    workspace_lookup = "thread__workspace_key"


class RunLease(models.Model):
    """A run lease on one message (`open_run`): `running` until its holder ends it. The server never expires a
    lease (the client's contract); readers call a running lease stale from `last_heartbeat_at`."""

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, related_name="run_leases")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="run_leases")
    status = models.CharField(max_length=16, default="running")
    end_reason = models.CharField(max_length=16, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_heartbeat_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    unscoped_for_operators = models.Manager()
    objects = RunLeaseManager()

    class Meta:
        default_manager_name = "objects"
        indexes = [models.Index(fields=["message", "status", "created_at"], name="runlease_message_idx")]

    def __str__(self) -> str:
        return self.id


class TraceManager(WorkspaceScopedManager):
    workspace_lookup = "workspace_key"


class TraceBatch(models.Model):
    """The spans of one trace from one `POST /v1/traces` (OTLP/JSON) export, kept bounded per workspace.

    `thread` is found through the run report (`POST /v1/runs`) that names the same `trace_id`, whichever
    of the two arrives first."""

    workspace_key = models.CharField(max_length=255, editable=False)
    trace_id = models.CharField(max_length=32)
    thread = models.ForeignKey(Thread, on_delete=models.CASCADE, null=True, blank=True, related_name="traces")
    span_count = models.PositiveIntegerField()
    spans = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    unscoped_for_operators = models.Manager()
    objects = TraceManager()

    class Meta:
        default_manager_name = "objects"
        indexes = [
            models.Index(fields=["workspace_key", "trace_id"], name="trace_ws_trace_idx"),
            models.Index(fields=["workspace_key", "received_at"], name="trace_ws_received_idx"),
        ]

    def __str__(self) -> str:
        return f"trace {self.trace_id} ({self.span_count} spans)"
