from django.urls import path

from threads.api import views

app_name = "threads"

urlpatterns = [
    path("api/threads", views.ThreadListView.as_view(), name="thread-list"),
    path("api/threads/<str:thread_id>", views.ThreadDetailView.as_view(), name="thread-detail"),
    path("api/threads/<str:thread_id>/messages", views.MessageListView.as_view(), name="message-list"),
    path(
        "api/threads/<str:thread_id>/messages/<str:message_id>",
        views.MessageDetailView.as_view(),
        name="message-detail",
    ),
    path("api/schema/", views.SchemaView.as_view(), name="schema"),
    path("api/docs/", views.DocsView.as_view(), name="docs"),
    path("api/docs/assets/<str:name>", views.docs_asset, name="docs-asset"),
]
