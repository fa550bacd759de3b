"""`/v1/files/*`: presigned upload/download URLs as the `assistant-cloud` client calls them, and the signed
local-store endpoint they point at (`threads.files` has the rules)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.decorators import method_decorator
from django.utils.http import content_disposition_header
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import ApiError
from config.validation import StrictCharField, StrictSerializer, format_timestamp
from threads import files
from threads import openapi as o
from threads.cloud.views import CloudView


def _api_error(exc: files.FileError) -> ApiError:
    return ApiError(exc.code, exc.message, exc.status)


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/")


class UploadUrlBody(StrictSerializer):
    filename = StrictCharField(max_length=255)

    def validate_filename(self, value: str) -> str:
        if not value.strip() or "/" in value or "\\" in value:
            raise serializers.ValidationError("Must be a plain file name.")
        return value


class DownloadUrlBody(StrictSerializer):
    key = StrictCharField(max_length=2000, required=False)
    url = StrictCharField(max_length=4000, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("key" in attrs) == ("url" in attrs):
            raise serializers.ValidationError("Send exactly one of key or url.")
        return attrs


class PresignedUploadView(CloudView):
    """`POST /v1/files/attachments/generate-presigned-upload-url {filename}`."""

    @extend_schema(
        operation_id="v1_files_upload_url",
        request=UploadUrlBody,
        responses={200: OpenApiTypes.OBJECT, **o.errors(400, 401, 413, 429)},
    )
    def post(self, request: Request) -> Response:
        filename = self.body(UploadUrlBody)["filename"]
        try:
            attachment, url = files.create_upload(
                workspace=self.workspace, filename=filename, base_url=_base_url(request)
            )
        except files.FileError as exc:
            raise _api_error(exc) from exc
        return Response(
            {
                "success": True,
                "signedUrl": url.url,
                "expiresAt": format_timestamp(url.expires_at),
                "publicUrl": files.public_url(_base_url(request), attachment),
                "key": attachment.id,
            }
        )


class PresignedDownloadView(CloudView):
    """`POST /v1/files/attachments/generate-presigned-download-url {key} | {url}`."""

    @extend_schema(
        operation_id="v1_files_download_url",
        request=DownloadUrlBody,
        responses={200: OpenApiTypes.OBJECT, **o.errors(400, 401, 404)},
    )
    def post(self, request: Request) -> Response:
        body = self.body(DownloadUrlBody)
        file_id = files.file_id_from(body.get("key") or body.get("url") or "")
        try:
            if file_id is None:
                raise files.FileError("not_found", "File not found.", 404)
            attachment, url = files.download_url(workspace=self.workspace, file_id=file_id, base_url=_base_url(request))
        except files.FileError as exc:
            raise _api_error(exc) from exc
        return Response({"signedUrl": url.url, "expiresAt": format_timestamp(url.expires_at), "key": attachment.id})


class PublicFileView(CloudView):
    """`GET /v1/files/attachments/<id>` (the `publicUrl`): the bytes, to the file's own workspace only."""

    @extend_schema(
        operation_id="v1_files_retrieve",
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **o.errors(401, 404, 409)},
    )
    def get(self, request: Request, file_id: str) -> Any:
        try:
            attachment = files.get(workspace=self.workspace, file_id=file_id)
        except files.FileError as exc:
            raise _api_error(exc) from exc
        if attachment.status != "ready":
            raise ApiError("not_uploaded", "The file has not been uploaded.", status.HTTP_409_CONFLICT)
        return _file_response(attachment)


CHUNK_BYTES = 64 * 1024


async def _chunks(handle: Any) -> AsyncIterator[bytes]:
    """The file in chunks, read off the event loop: ASGI streams it instead of buffering the whole file."""
    try:
        while chunk := await sync_to_async(handle.read, thread_sensitive=False)(CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


def _file_response(attachment: Any) -> StreamingHttpResponse:
    response = StreamingHttpResponse(
        _chunks(files.storage().open(attachment.storage_key, "rb")), content_type=attachment.content_type
    )
    if attachment.size is not None:
        response["Content-Length"] = str(attachment.size)
    response["Content-Disposition"] = content_disposition_header(True, attachment.filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _error(exc: files.FileError) -> JsonResponse:
    return JsonResponse({"error": exc.code, "message": exc.message}, status=exc.status)


@method_decorator(csrf_exempt, name="dispatch")
class SignedBlobView(View):
    """`PUT|GET /v1/files/blob/<id>?ws=&expires=&signature=`: the local store behind presigned URLs. The
    signature is the only credential (bound to method, workspace, file and expiry)."""

    http_method_names = ["get", "put", "head", "options"]

    def _verify(self, request: HttpRequest, file_id: str, method: str) -> Any:
        q = request.GET
        return files.verify(
            method=method,
            file_id=file_id,
            workspace_key=q.get("ws", ""),
            expires=q.get("expires", ""),
            signature=q.get("signature", ""),
        )

    def put(self, request: HttpRequest, file_id: str) -> HttpResponse:
        try:
            if files.is_s3():
                raise files.FileError("not_found", "Uploads go to the object store's own URL.", 404)
            attachment = self._verify(request, file_id, "PUT")
            declared = request.META.get("CONTENT_LENGTH")
            length = int(declared) if declared and declared.isdigit() else None
            files.store_upload(attachment=attachment, stream=request, declared_length=length)
        except files.FileError as exc:
            return _error(exc)
        return HttpResponse(status=200)

    def get(self, request: HttpRequest, file_id: str) -> HttpResponse:
        try:
            attachment = self._verify(request, file_id, "GET")
            if attachment.status != "ready":
                raise files.FileError("not_uploaded", "The file has not been uploaded.", 409)
        except files.FileError as exc:
            return _error(exc)
        return _file_response(attachment)


@method_decorator(csrf_exempt, name="dispatch")
class PdfToImagesView(View):
    """`POST /v1/files/pdf-to-images`: 404, as the hosted service answers (the client marks it deprecated)."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return JsonResponse(
            {"error": "not_found", "message": "PDF conversion is not offered (deprecated in the client)."}, status=404
        )
