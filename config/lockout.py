"""The response to a locked-out admin sign-in (django-axes `AXES_LOCKOUT_CALLABLE`).

An HTML page in the admin's look for the admin login, JSON `{"error", "message"}` anywhere else; 429 with
`Retry-After` while a cool-off applies.
"""

from __future__ import annotations

import math
from typing import Any

from axes.helpers import get_cool_off
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from config import metrics

LOCKED_OUT = "login_locked_out"


def lockout_response(request: HttpRequest, *_: Any) -> HttpResponse:
    # axes calls this with (request, original_response, credentials) or, on its async path, (request, credentials).
    metrics.rate_limited("admin_login")
    cool_off = get_cool_off(request)
    minutes = math.ceil(cool_off.total_seconds() / 60) if cool_off else None
    if minutes:
        message = f"Too many failed sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    else:
        message = "Too many failed sign-in attempts. An administrator has to unlock this account."
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith(reverse("admin:index")):
        context = {
            **admin.site.each_context(request),
            "title": "Sign-in locked",
            "message": message,
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        }
        response: HttpResponse = TemplateResponse(request, "admin/lockout.html", context, status=status)
        response.render()
    else:
        response = JsonResponse({"error": LOCKED_OUT, "message": message}, status=status)
    if cool_off:
        response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    response["Cache-Control"] = "no-store"
    return response
