"""Admin for /v1 credentials: API keys (created here, shown once, stored hashed) and provider auth rules."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template import RequestContext, Template

from chatauth.cloud.apikeys import create_api_key, revoke_api_key
from chatauth.models import AnonymousIdentity, ApiKey, AuthRule

_SHOWN_ONCE = Template(
    """{% extends "admin/base_site.html" %}
{% block content %}
<h1>API key created: {{ key.name }}</h1>
<p>Copy the key now. It is stored only as a hash and <strong>will not be shown again</strong>.</p>
<p><input type="text" readonly value="{{ raw }}" size="80" onclick="this.select()"></p>
<p><a href="{{ back }}">Back to API keys</a></p>
{% endblock %}"""
)


class ApiKeyCreateForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "display_prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "key_id"]
    readonly_fields = ["display_prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["name"] if obj is None else ["name", *self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        key, raw = create_api_key(obj.name)
        obj.pk, obj.key_id, obj.key_hash, obj.created_at = key.pk, key.key_id, key.key_hash, key.created_at
        obj._state.adding = False
        request._new_api_key = raw  # type: ignore[attr-defined]  # rendered once by response_add, never stored

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        raw = getattr(request, "_new_api_key", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = RequestContext(
            request, {**self.admin_site.each_context(request), "key": obj, "raw": raw, "back": "../"}
        )
        response = HttpResponse(_SHOWN_ONCE.render(context))
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected API keys (takes effect at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            revoke_api_key(key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(AuthRule)
class AuthRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "provider", "issuer", "audience", "enabled"]
    list_filter = ["provider", "enabled"]
    fields = [
        "name",
        "provider",
        "issuer",
        "jwks_url",
        "audience",
        "user_id_claim",
        "org_id_claim",
        "shares_clerk_users",
        "enabled",
    ]

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "jwks_url":
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)


@admin.register(AnonymousIdentity)
class AnonymousIdentityAdmin(admin.ModelAdmin):
    list_display = ["id", "created_at", "claimed_at", "claimed_by"]
    readonly_fields = ["id", "created_at", "claimed_at", "claimed_by"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
