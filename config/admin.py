from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


class StaffOnlyAdminSite(admin.AdminSite):
    """The Django admin, for Django staff accounts signed in with a password: never for Clerk tokens."""

    site_header = "Chat backend administration"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        if getattr(user, "clerk_identity", None) is not None:
            return False
        return super().has_permission(request)
