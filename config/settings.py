"""Project settings, read from the environment (and an optional `.env` file) with django-environ.

Every variable is listed with its default in `.env.example` and the README.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Development without ceremony: with none of these set (a fresh clone, `make run`, `manage.py ...`), DEBUG defaults
# to on, with the development issuer, the offline model and SQLite. Any one of them says "this is a deployment":
# DEBUG then defaults to off and every production requirement below is enforced (SECRET_KEY, ALLOWED_HOSTS, a
# Clerk key). An explicit DEBUG always wins.
PRODUCTION_SIGNALS = (
    "DATABASE_URL",
    "CACHE_URL",
    "ALLOWED_HOSTS",
    "SECRET_KEY",
    "CLERK_PUBLISHABLE_KEY",
    "CLERK_SECRET_KEY",
    "CLERK_JWT_KEY",
    "CLERK_JWKS_URL",
)
PRODUCTION_SIGNALS_PRESENT: list[str] = [name for name in PRODUCTION_SIGNALS if env.str(name, default="")]
DEBUG: bool = env.bool("DEBUG", default=not PRODUCTION_SIGNALS_PRESENT)

_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"
SECRET_KEY: str = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off"
            + (
                f" (DEBUG is off because {', '.join(PRODUCTION_SIGNALS_PRESENT)} is set)."
                if PRODUCTION_SIGNALS_PRESENT
                else "."
            )
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "config.apps.ChatAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "chatauth",
    "threads",
]

# Django's middlewares by their Django names (`check --deploy` looks for security, CSRF and clickjacking by
# name). Under ASGI, `config.handler.ASGIHandler` loads the pure ones as their `config.inline` subclasses, whose
# hooks run in place instead of hopping to a thread twice per request (`config.handler.IN_PLACE`).
MIDDLEWARE = [
    "config.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The admin's CSS/JS from STATIC_ROOT (production) or the apps (DEBUG), before any session or auth work;
    # async-capable, so API requests do not hop to a thread to pass through.
    "config.staticfiles.StaticFilesMiddleware",
    # Counts and times every request by URL route and status (static files excluded): GET /metrics.
    "config.metrics_http.MetricsMiddleware",
    "chatauth.cloud.cors.CorsMiddleware",
    # Inside CORS (so its headers land on the rewritten response): every non-JSON 4xx/5xx on an API path, e.g. a
    # plain view's 405 or Django's CSRF page, becomes `{error, message}`.
    "config.middleware.JsonErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chatauth.clerk.middleware.ClerkAuthMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out admin login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Admin password sign-in: django-axes first (refuses locked-out callers before any password is checked), then
# Django's own. Clerk-authenticated API requests never call authenticate(), so axes never sees them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    # Take the write lock at BEGIN, so concurrent writers wait (up to the timeout) instead of failing at once.
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # Write-ahead log: a commit is one append and one fsync (synchronous=FULL keeps every acknowledged commit,
    # the user message of a turn included, across a power loss), not the rollback journal's three; readers never
    # wait for the writer. (An in-memory test database ignores it.)
    DATABASES["default"]["OPTIONS"].setdefault("init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL")

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` writes here (production start-up); WhiteNoise serves it with far-future cache headers.
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "static")
# With DEBUG on (make run, and the test suite) WhiteNoise serves straight from the apps' static folders and URLs are
# unhashed: no collectstatic needed.
WHITENOISE_USE_FINDERS: bool = env.bool("WHITENOISE_USE_FINDERS", default=DEBUG)
WHITENOISE_AUTOREFRESH: bool = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # /v1 attachments: the local filesystem (ATTACHMENTS_ROOT, default var/attachments) unless
    # ATTACHMENTS_S3_BUCKET names an S3-compatible bucket (django-storages; see the README /v1 section).
    "attachments": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("ATTACHMENTS_S3_BUCKET"),
            "endpoint_url": env.str("ATTACHMENTS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("ATTACHMENTS_S3_REGION", default=None),
            "access_key": env.str("ATTACHMENTS_S3_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("ATTACHMENTS_S3_SECRET_ACCESS_KEY", default=None),
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    if env.str("ATTACHMENTS_S3_BUCKET", default="")
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(env.path("ATTACHMENTS_ROOT", default=str(BASE_DIR / "var" / "attachments")))},
    },
    # Otherwise (production) hashed, compressed copies made by `collectstatic`, cached forever by browsers. A static
    # URL missing from the manifest fails the page loudly, so a forgotten collectstatic cannot go unnoticed.
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if WHITENOISE_USE_FINDERS
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Admin login throttling (django-axes): failed attempts are stored in the database, so every worker sees them.
# AXES_LOCKOUT_PARAMETERS: comma-separated; each entry locks on its own, `a+b` locks the combination. The default
# locks an address that fails too often (a spray across users) and a user name that fails too often (a guess
# from many addresses).
AXES_ENABLED: bool = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT: int = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_LOCKOUT_PARAMETERS: list[str | list[str]] = [
    entry.split("+") if "+" in entry else entry
    for entry in env.list("AXES_LOCKOUT_PARAMETERS", default=["ip_address", "username"])
]
if not AXES_LOCKOUT_PARAMETERS or any(
    name not in {"ip_address", "username", "user_agent"}
    for entry in AXES_LOCKOUT_PARAMETERS
    for name in ([entry] if isinstance(entry, str) else entry)
):
    raise ImproperlyConfigured(
        "AXES_LOCKOUT_PARAMETERS: comma-separated entries of ip_address, username, user_agent (join with + to combine)."
    )
_axes_cooloff_minutes = env.float("AXES_COOLOFF_MINUTES", default=15)
# 0: locked until an operator deletes the access attempt in the admin (or `manage.py axes_reset`).
AXES_COOLOFF_TIME = timedelta(minutes=_axes_cooloff_minutes) if _axes_cooloff_minutes > 0 else None
AXES_RESET_ON_SUCCESS: bool = env.bool("AXES_RESET_ON_SUCCESS", default=True)
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# The client address is REMOTE_ADDR only, never a header a client could forge. Behind a load balancer, let uvicorn
# set it from X-Forwarded-For for trusted proxies only: `--forwarded-allow-ips <balancer address>`.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_LOCKOUT_CALLABLE = "config.lockout.lockout_response"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["chatauth.drf.ClerkSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["chatauth.drf.IsSignedIn"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    # `format` is a query parameter of the messages API, not a renderer switch.
    "URL_FORMAT_OVERRIDE": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Clerk chat backend API",
    "DESCRIPTION": "Workspace-scoped chat threads and messages behind Clerk sign-in.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {
        "MessageStatusEnum": "threads.models.MESSAGE_STATUSES",
        "RunReportStatusEnum": ["completed", "incomplete", "error"],
    },
    # The async chat views, health and readiness (not DRF views), described in threads.openapi.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "threads.openapi.add_plain_views",
    ],
}

_clerk_configured = any(
    env.str(name, default="")
    for name in ("CLERK_JWT_KEY", "CLERK_JWKS_URL", "CLERK_PUBLISHABLE_KEY", "CLERK_SECRET_KEY")
)
_dev_issuer_mode = env.str("CLERK_DEV_ISSUER", default="auto").lower()
if _dev_issuer_mode not in {"auto", "off", "force"}:
    raise ImproperlyConfigured("CLERK_DEV_ISSUER must be one of auto, off, force.")

# App settings namespaces. Each app declares its settings and defaults once (its `DEFAULTS`) and reads them
# lazily from the environment (`CLERK_*`, `THREADS_*`, `CHAT_*`, `CLOUD_*`, ...) through config.appsettings;
# these dicts hold only explicit overrides (tests set them). Every variable is listed in the README.
CLERK: dict = {}
THREADS: dict = {}
CHAT: dict = {}
CLOUD: dict = {}
OPS: dict = {}
WEBAPP: dict = {}
# /v1 file attachments (threads.files): ATTACHMENTS_* variables; the bytes go to STORAGES["attachments"].
ATTACHMENTS: dict = {}

# The worker's garbage collector (config/asgi.py): what start-up loaded is frozen out of every collection, and
# a collection runs after GC_THRESHOLD net new container objects (CPython's default is 700). A chat stream keeps a
# few hundred objects alive for its whole life, so with hundreds open the default collector ran every few
# turns and each full collection walked all of them: 2.5 ms of CPU per turn in `bench/turn.py` (issue 17).
GC_FREEZE: bool = env.bool("GC_FREEZE", default=True)
GC_THRESHOLD: int = env.int("GC_THRESHOLD", default=50_000)
if GC_THRESHOLD < 700:
    raise ImproperlyConfigured("GC_THRESHOLD must be at least 700 (CPython's own default).")

# Logs: one JSON object per line (LOG_FORMAT=json, the default with DEBUG off) or plain text, each record
# stamped with the request id (see config/logging.py). Headers, cookies and tokens are never logged.
LOG_FORMAT: str = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "config.logging.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Our own one-line-per-request log replaces Django's 4xx/5xx request warnings.
        "django.request": {"level": "ERROR"},
    },
}


# The metrics namespace (Prometheus `/metrics`): read through `config.metrics_http.metrics_settings`.
# PROMETHEUS_MULTIPROC_DIR (read by prometheus-client itself) turns on multiprocess mode: see the README.
# METRICS_TOKEN: the bearer token a scraper sends; unset: /metrics is off (404).
METRICS: dict = {}
if 0 < len(env.str("METRICS_TOKEN", default="")) < 24:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 24 characters (a random secret), or unset.")

# HTTPS behind a TLS-terminating load balancer: all off by default, turn them on in production.
if env.bool("SECURE_PROXY_SSL", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load-balancer probes speak plain HTTP
SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS: bool = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD: bool = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE: bool = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE: bool = SESSION_COOKIE_SECURE

# Production start-up refusal: with DEBUG off the service does not start half-configured. The test
# settings module (config.test_settings) opts out explicitly; nothing else can.
if not DEBUG and env.str("DJANGO_SETTINGS_MODULE", default="config.settings") != "config.test_settings":
    _problems = []
    if not ALLOWED_HOSTS:
        _problems.append("ALLOWED_HOSTS is empty: set the host names this service answers to.")
    if not _clerk_configured and _dev_issuer_mode != "force":
        _problems.append(
            "No Clerk key: set CLERK_PUBLISHABLE_KEY (or CLERK_JWT_KEY / CLERK_JWKS_URL / CLERK_SECRET_KEY)."
        )
    if _problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off: " + " ".join(_problems))
