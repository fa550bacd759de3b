"""The token endpoints: Clerk session -> workspace token, API key -> workspace token, anonymous identities."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatauth.caller import Caller
from chatauth.cloud import anonymous
from chatauth.cloud.conf import cloud_settings
from chatauth.cloud.tokens import mint
from chatauth.drf import CloudAuthentication, IsApiKeyCaller
from config.errors import ApiError
from config.ratelimit import client_address, enforce
from config.validation import (
    BoundedJSONParser,
    JsonAlways,
    StrictCharField,
    StrictSerializer,
    format_timestamp,
    validated,
)

MAX_BODY = (16 * 1024, "a token request is small")

# Documentation only (the views answer with plain dicts).
_ERROR = inline_serializer("TokenError", {"error": serializers.CharField(), "message": serializers.CharField()})
_WORKSPACE_TOKEN = inline_serializer("WorkspaceToken", {"token": serializers.CharField()})
_ANONYMOUS_TOKENS = inline_serializer(
    "AnonymousTokens",
    {
        "access_token": serializers.CharField(help_text="A workspace token for the anonymous workspace."),
        "refresh_token": inline_serializer(
            "AnonymousRefreshToken", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
        ),
    },
)


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(_ERROR) for code in codes}


class TokenView(APIView):
    content_negotiation_class = JsonAlways
    parser_classes = [BoundedJSONParser]
    max_body = MAX_BODY


def limit_minting(subject: str) -> None:
    """Minting workspace tokens is rate limited per credential (a 429 with Retry-After past the budget)."""
    enforce(
        "token",
        subject,
        limit=int(cloud_settings.TOKEN_RATE_LIMIT_REQUESTS),
        window=60,
        what="workspace tokens",
    )


class AssistantUiTokenView(TokenView):
    """`POST /api/assistant-ui-token`: a Clerk-signed-in caller gets a workspace token as plain text."""

    @extend_schema(
        operation_id="assistant_ui_token",
        summary="A workspace token for `AssistantCloud({authToken})`, from a Clerk session",
        request=None,
        responses={
            (200, "text/plain"): OpenApiResponse({"type": "string"}, description="The token."),
            **_errors(401, 429),
        },
    )
    def post(self, request: Request) -> HttpResponse:
        caller: Caller = request.auth
        limit_minting(f"user:{caller.user_id}")
        response = HttpResponse(mint(caller.workspace), content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class AuthTokensView(TokenView):
    """`POST /v1/auth/tokens` with an API key + Aui-User-Id + Aui-Workspace-Id: `{token}`."""

    authentication_classes = [CloudAuthentication]
    permission_classes = [IsApiKeyCaller]

    @extend_schema(
        operation_id="v1_auth_tokens",
        summary="API key + Aui-User-Id + Aui-Workspace-Id: a workspace token",
        request=None,
        responses={200: _WORKSPACE_TOKEN, **_errors(401, 403, 429)},
    )
    def post(self, request: Request) -> Response:
        caller: Caller = request.auth
        limit_minting(f"api-key:{caller.api_key_id}")
        token = mint(caller.workspace, api_key_id=caller.api_key_id)
        return Response({"token": token}, headers={"Cache-Control": "no-store"})


class RefreshTokenBody(StrictSerializer):
    refresh_token = StrictCharField(max_length=200)


class AnonymousModeView(TokenView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not cloud_settings.ANONYMOUS_ENABLED:
            raise ApiError("anonymous_disabled", "Anonymous mode is off.", status.HTTP_404_NOT_FOUND)

    @staticmethod
    def token_response(identity: Any, refresh: anonymous.IssuedRefreshToken) -> Response:
        body = {
            "access_token": mint(anonymous.workspace_of(identity), anonymous=True),
            "refresh_token": {"token": refresh.token, "expires_at": format_timestamp(refresh.expires_at)},
        }
        return Response(body, headers={"Cache-Control": "no-store"})


class AnonymousTokenView(AnonymousModeView):
    """`POST /v1/auth/tokens/anonymous`: a new anonymous identity."""

    @extend_schema(
        operation_id="v1_auth_tokens_anonymous",
        summary="A new anonymous identity (anonymous mode only; 404 otherwise)",
        request=None,
        responses={200: _ANONYMOUS_TOKENS, **_errors(404, 429)},
    )
    def post(self, request: Request) -> Response:
        enforce(
            "anonymous",
            client_address(request.META),
            limit=int(cloud_settings.ANONYMOUS_RATE_LIMIT_REQUESTS),
            window=int(cloud_settings.ANONYMOUS_RATE_LIMIT_WINDOW_SECONDS),
            what="new anonymous identities from this address",
        )
        identity, refresh = anonymous.create_identity()
        return self.token_response(identity, refresh)


class RefreshTokenView(AnonymousModeView):
    """`POST /v1/auth/tokens/refresh {refresh_token}`: a new access token; the refresh token rotates."""

    @extend_schema(
        operation_id="v1_auth_tokens_refresh",
        summary="Rotate an anonymous refresh token for a new access token",
        request=inline_serializer("AnonymousRefreshRequest", {"refresh_token": serializers.CharField(max_length=200)}),
        responses={200: _ANONYMOUS_TOKENS, **_errors(400, 401, 404, 429)},
    )
    def post(self, request: Request) -> Response:
        limit_minting(f"refresh:{client_address(request.META)}")
        raw = validated(RefreshTokenBody, request.data)["refresh_token"]
        try:
            identity, refresh = anonymous.refresh(raw)
        except anonymous.RefreshTokenInvalid as exc:
            raise ApiError(
                "invalid_refresh_token", "The refresh token is invalid, expired or already used.", 401
            ) from exc
        return self.token_response(identity, refresh)
