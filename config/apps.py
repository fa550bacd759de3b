from django.contrib.admin.apps import AdminConfig


class ChatAdminConfig(AdminConfig):
    default_site = "config.admin.StaffOnlyAdminSite"
