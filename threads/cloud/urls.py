"""/v1 (Assistant Cloud compatible) chat data; the token endpoints are in `chatauth.cloud.urls`."""

from django.urls import path, re_path

from threads.cloud import files, projects, runs, traces, views

urlpatterns = [
    path("v1/threads", views.ThreadListView.as_view(), name="cloud-threads"),
    path("v1/threads/claim", views.ThreadClaimView.as_view(), name="cloud-threads-claim"),
    path("v1/threads/<str:thread_id>", views.ThreadDetailView.as_view(), name="cloud-thread"),
    path("v1/threads/<str:thread_id>/messages", views.MessageListView.as_view(), name="cloud-messages"),
    path(
        "v1/threads/<str:thread_id>/messages/<str:message_id>", views.MessageDetailView.as_view(), name="cloud-message"
    ),
    path(
        "v1/threads/<str:thread_id>/messages/<str:message_id>/feedback",
        views.MessageFeedbackView.as_view(),
        name="cloud-message-feedback",
    ),
    path(
        "v1/threads/<str:thread_id>/runs/<str:lease_id>/<str:action>",
        runs.RunLeaseView.as_view(),
        name="cloud-run-lease",
    ),
    path("v1/runs/stream", runs.RunStreamView.as_view(), name="cloud-runs-stream"),
    path("v1/runs", runs.RunReportView.as_view(), name="cloud-runs"),
    path("v1/events", runs.EventsView.as_view(), name="cloud-events"),
    path("v1/traces", traces.TracesView.as_view(), name="cloud-traces"),
    path("v1/scores", views.ScoreView.as_view(), name="cloud-scores"),
    path("v1/projects/threads", projects.ProjectThreadListView.as_view(), name="cloud-project-threads"),
    path(
        "v1/projects/threads/<str:thread_id>/messages",
        projects.ProjectThreadMessagesView.as_view(),
        name="cloud-project-messages",
    ),
    path(
        "v1/files/attachments/generate-presigned-upload-url",
        files.PresignedUploadView.as_view(),
        name="cloud-files-upload-url",
    ),
    path(
        "v1/files/attachments/generate-presigned-download-url",
        files.PresignedDownloadView.as_view(),
        name="cloud-files-download-url",
    ),
    path("v1/files/attachments/<str:file_id>", files.PublicFileView.as_view(), name="cloud-file"),
    path("v1/files/blob/<str:file_id>", files.SignedBlobView.as_view(), name="cloud-file-blob"),
    path("v1/files/pdf-to-images", files.PdfToImagesView.as_view(), name="cloud-files-pdf"),
    re_path(r"^v1/", views.NotFoundView.as_view(), name="cloud-not-found"),
]
