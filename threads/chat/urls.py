from django.urls import path

from threads.chat import views

urlpatterns = [
    path("api/chat", views.chat, name="chat"),
    path("api/chat/<str:thread_id>/stream", views.chat_stream, name="chat-stream"),
    path("api/threads/<str:thread_id>/title", views.thread_title, name="thread-title"),
]
