from django.urls import path

from threads.chat import views

urlpatterns = [
    path("api/chat", views.chat, name="chat"),
    path("api/threads/<str:thread_id>/title", views.thread_title, name="thread-title"),
]
