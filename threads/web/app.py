"""The browser app: its page shell, its built assets, and the development sign-in.

The front end (threads/webapp, Vite + assistant-ui) is built to `dist/`; Vite's manifest names the hashed
entry files, which the page shell (templates/app.html) loads from `/app/assets/`. The assets are served
by this module, so the app works the same under `runserver` and under uvicorn with DEBUG off, with no
collectstatic step. When the build is missing the page says so and how to build it.

`POST /dev/session` mints a development-issuer session token for the sign-in form. It exists only while
the development issuer is on (`clerk_settings.uses_dev_issuer`); otherwise it is a 404, like any unknown URL.
"""

from __future__ import annotations

import json
import re
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from chatauth.clerk.conf import clerk_settings
from config.appsettings import AppSettings, Setting
from config.errors import json_error

ENTRY = "src/main.tsx"
ASSET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".json": "application/json",
}
ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DEV_SESSION_TTL_SECONDS = 3600
DEV_ORG_ROLES = ("admin", "member")


# `WEBAPP_DIST_DIR` (the Vite build) and `WEBAPP_API_BASE` (where the page sends API calls; default: same origin).
web_settings = AppSettings(
    "WEBAPP",
    {
        "DIST_DIR": Setting(lambda: str(Path(settings.BASE_DIR) / "threads" / "webapp" / "dist")),
        "API_BASE": "",
    },
)


def dist_dir() -> Path:
    return Path(web_settings.DIST_DIR)


@lru_cache(maxsize=8)
def _read_manifest(path: str, mtime_ns: int) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def entry_assets() -> dict[str, Any] | None:
    """`{"script": url, "css": [urls]}` of the built entry, or None when the app has not been built.

    Keyed on the manifest's mtime, so a rebuild is picked up without a restart.
    """
    manifest = dist_dir() / ".vite" / "manifest.json"
    try:
        mtime = manifest.stat().st_mtime_ns
    except OSError:
        return None
    data = _read_manifest(str(manifest), mtime)
    entry = (data or {}).get(ENTRY)
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        return None
    return {
        "script": "/app/" + entry["file"],
        "css": ["/app/" + css for css in entry.get("css", []) if isinstance(css, str)],
    }


def page_settings() -> dict[str, Any]:
    """What the page needs to know, injected into the shell as JSON (never a secret)."""
    if clerk_settings.PUBLISHABLE_KEY:
        mode = "clerk"
    elif clerk_settings.uses_dev_issuer:
        mode = "dev"
    else:
        mode = "none"
    return {
        "mode": mode,
        "publishableKey": clerk_settings.PUBLISHABLE_KEY if mode == "clerk" else "",
        "apiBase": web_settings.API_BASE,
        "devSessionUrl": "/dev/session",
    }


@require_GET
def app_page(request: HttpRequest, thread_id: str | None = None) -> HttpResponse:
    """The browser app's page shell; a page saying how to build the app when the build is missing.

    Also served at `/chat/<thread_id>`: the app reads the id from the address and asks the API for the
    thread (so an unknown or foreign id is the API's 404, shown inside the app, never a server-side lookup).
    """
    assets = entry_assets()
    config = page_settings()
    status = 200 if assets and config["mode"] != "none" else 503
    response = render(
        request,
        "app.html",
        {"assets": assets, "app_settings": config, "dist_dir": dist_dir()},
        status=status,
    )
    response["Cache-Control"] = "no-cache"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def app_asset(request: HttpRequest, name: str) -> HttpResponse:
    """One built asset by its (hashed) file name; names are checked, never joined as paths."""
    if not ASSET_NAME.match(name) or ".." in name:
        raise Http404
    root = (dist_dir() / "assets").resolve()
    path = (root / name).resolve()
    if path.parent != root or not path.is_file():
        raise Http404
    # Read whole (a few hundred KB at most): a sync file iterator would stall the ASGI event loop.
    response = HttpResponse(path.read_bytes(), content_type=CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
    # Vite puts a content hash in every asset name, so an asset never changes under its name.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _bad(message: str) -> JsonResponse:
    return json_error("invalid_request", message, 400)


@csrf_exempt  # JSON only (a cross-site form cannot send it), mints nothing a caller could not mint locally
def dev_session(request: HttpRequest) -> HttpResponse:
    """`{user, org?, role?}` -> a development session token for that user (and organization)."""
    if not clerk_settings.uses_dev_issuer:
        raise Http404  # before anything else: with the issuer off, this URL does not exist for any method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    if request.content_type != "application/json":
        return json_error("unsupported_media_type", "Send a JSON body (Content-Type: application/json).", 415)
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return _bad("The body is not valid JSON.")
    if not isinstance(body, dict):
        return _bad("The body must be a JSON object: {user, org?, role?}.")
    unknown = sorted(set(body) - {"user", "org", "role"})
    if unknown:
        return _bad(f"Unknown fields: {', '.join(unknown)}.")
    user, org, role = body.get("user"), body.get("org"), body.get("role", "admin")
    if not isinstance(user, str) or not ID_PATTERN.match(user):
        return _bad("user: 1-64 letters, digits, '_' or '-'.")
    if org is not None and (not isinstance(org, str) or not ID_PATTERN.match(org)):
        return _bad("org: 1-64 letters, digits, '_' or '-', or null for the personal workspace.")
    if role not in DEV_ORG_ROLES:
        return _bad(f"role: one of {', '.join(DEV_ORG_ROLES)}.")

    from chatauth.clerk.devissuer import dev_issuer

    token = dev_issuer().mint(
        user,
        org_id=org or None,
        org_role=role,
        azp=f"{request.scheme}://{request.get_host()}",
        ttl=DEV_SESSION_TTL_SECONDS,
    )
    response = JsonResponse(
        {
            "token": token,
            "user_id": user,
            "org_id": org or None,
            "expires_at": int(time.time()) + DEV_SESSION_TTL_SECONDS,
        }
    )
    response["Cache-Control"] = "no-store"
    return response
