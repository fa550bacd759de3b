from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chatauth.clerk.conf import clerk_settings


class MeView(APIView):
    """The signed-in caller as this service sees it."""

    @extend_schema(
        responses=inline_serializer(
            "Principal",
            {
                "user_id": serializers.CharField(),
                "session_id": serializers.CharField(allow_null=True),
                "session_status": serializers.CharField(allow_null=True),
                "org_id": serializers.CharField(allow_null=True),
                "org_role": serializers.CharField(allow_null=True),
                "org_slug": serializers.CharField(allow_null=True),
                "org_permissions": serializers.ListField(child=serializers.CharField()),
                "actor": serializers.DictField(allow_null=True),
                "workspace": serializers.CharField(),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(request.auth.as_dict())


def dev_jwks(request: HttpRequest) -> JsonResponse:
    """The development issuer's public keys (404 unless the development issuer is on)."""
    if not clerk_settings.uses_dev_issuer:
        raise Http404
    from chatauth.clerk.devissuer import dev_issuer

    return JsonResponse(dev_issuer().jwks())
