"""Project settings, read from the environment (and an optional `.env` file) with django-environ.

Every variable is listed with its default in `.env.example` and the README.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG: bool = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-development-only-never-use-in-production"
SECRET_KEY: str = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "config.apps.ChatAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "chatauth",
    "threads",
]

MIDDLEWARE = [
    "config.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "chatauth.cors.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chatauth.middleware.ClerkAuthMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["chatauth.authentication.ClerkSessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["chatauth.authentication.IsSignedIn"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "chatauth.errors.api_exception_handler",
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
}

_clerk_configured = any(
    env.str(name, default="")
    for name in ("CLERK_JWT_KEY", "CLERK_JWKS_URL", "CLERK_PUBLISHABLE_KEY", "CLERK_SECRET_KEY")
)
_dev_issuer_mode = env.str("CLERK_DEV_ISSUER", default="auto").lower()
if _dev_issuer_mode not in {"auto", "off", "force"}:
    raise ImproperlyConfigured("CLERK_DEV_ISSUER must be one of auto, off, force.")

# The chatauth namespace: read through `chatauth.conf.clerk_settings`.
CLERK = {
    "JWT_KEY": env.str("CLERK_JWT_KEY", default="").replace("\\n", "\n"),
    "JWKS_URL": env.str("CLERK_JWKS_URL", default=""),
    "PUBLISHABLE_KEY": env.str("CLERK_PUBLISHABLE_KEY", default=""),
    "SECRET_KEY": env.str("CLERK_SECRET_KEY", default=""),
    "API_URL": env.str("CLERK_API_URL", default="https://api.clerk.com"),
    "ISSUER": env.str("CLERK_ISSUER", default=""),
    "AUTHORIZED_PARTIES": env.list("CLERK_AUTHORIZED_PARTIES", default=[]),
    "AUDIENCES": env.list("CLERK_AUDIENCES", default=[]),
    "CLOCK_SKEW_SECONDS": env.int("CLERK_CLOCK_SKEW_SECONDS", default=5),
    "JWKS_CACHE_TTL_SECONDS": env.int("CLERK_JWKS_CACHE_TTL_SECONDS", default=3600),
    "JWKS_REFRESH_INTERVAL_SECONDS": env.int("CLERK_JWKS_REFRESH_INTERVAL_SECONDS", default=60),
    "JWKS_TIMEOUT_SECONDS": env.float("CLERK_JWKS_TIMEOUT_SECONDS", default=3.0),
    "MAX_TOKEN_BYTES": env.int("CLERK_MAX_TOKEN_BYTES", default=8192),
    "ACCEPT_PENDING_SESSIONS": env.bool("CLERK_ACCEPT_PENDING_SESSIONS", default=False),
    "DEV_ISSUER": _dev_issuer_mode == "force" or (_dev_issuer_mode == "auto" and DEBUG and not _clerk_configured),
    "DEV_KEY_FILE": env.str("CLERK_DEV_KEY_FILE", default=str(BASE_DIR / "var" / "dev_issuer_key.pem")),
}

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

# The threads namespace (REST API for chat threads/messages): read through `threads.conf`.
THREADS: dict = {
    "MAX_CONTENT_BYTES": env.int("THREADS_MAX_CONTENT_BYTES", default=256 * 1024),
    "MAX_METADATA_BYTES": env.int("THREADS_MAX_METADATA_BYTES", default=16 * 1024),
    "MAX_BODY_BYTES": env.int("THREADS_MAX_BODY_BYTES", default=1024 * 1024),
    "PAGE_SIZE": env.int("THREADS_PAGE_SIZE", default=20),
    "MAX_PAGE_SIZE": env.int("THREADS_MAX_PAGE_SIZE", default=100),
}

# The chat namespace (/api/chat streaming endpoint): read through `threads.chat.conf`.
CHAT: dict = {
    "OPENAI_API_KEY": env.str("OPENAI_API_KEY", default=""),
    "OPENAI_BASE_URL": env.str("OPENAI_BASE_URL", default=""),
    "MODEL": env.str("CHAT_MODEL", default="gpt-4o-mini"),
    "TITLE_MODEL": env.str("CHAT_TITLE_MODEL", default=""),
    # The offline development model: on in DEBUG when no OPENAI_API_KEY is set (or forced with CHAT_DEV_MODEL).
    "DEV_MODEL": env.bool("CHAT_DEV_MODEL", default=DEBUG),
    "SYSTEM_PROMPT": env.str("CHAT_SYSTEM_PROMPT", default="You are a helpful assistant."),
    "MAX_BODY_BYTES": env.int("CHAT_MAX_BODY_BYTES", default=1024 * 1024),
    "MAX_MESSAGES": env.int("CHAT_MAX_MESSAGES", default=200),
    "MAX_OUTPUT_TOKENS": env.int("CHAT_MAX_OUTPUT_TOKENS", default=4096),
    "CONNECT_TIMEOUT_SECONDS": env.float("CHAT_CONNECT_TIMEOUT_SECONDS", default=10.0),
    "READ_TIMEOUT_SECONDS": env.float("CHAT_READ_TIMEOUT_SECONDS", default=60.0),
    "MAX_DURATION_SECONDS": env.int("CHAT_MAX_DURATION_SECONDS", default=300),
    "KEEPALIVE_SECONDS": env.float("CHAT_KEEPALIVE_SECONDS", default=15.0),
    "RATE_LIMIT_REQUESTS": env.int("CHAT_RATE_LIMIT_REQUESTS", default=30),
    "RATE_LIMIT_WINDOW_SECONDS": env.int("CHAT_RATE_LIMIT_WINDOW_SECONDS", default=60),
    "MAX_CONCURRENT_STREAMS": env.int("CHAT_MAX_CONCURRENT_STREAMS", default=3),
    "MAX_STREAM_READERS": env.int("CHAT_MAX_STREAM_READERS", default=10),
    # Chat database calls in flight per worker process (each holds a connection for a few milliseconds).
    "DB_CONCURRENCY": env.int("CHAT_DB_CONCURRENCY", default=16),
    # Resumable generations need Redis: on by default when the shared cache is Redis.
    "RESUMABLE": env.bool("CHAT_RESUMABLE", default=CACHES["default"]["BACKEND"].endswith("RedisCache")),
    "REDIS_URL": env.str(
        "CHAT_REDIS_URL",
        default=CACHES["default"]["LOCATION"] if CACHES["default"]["BACKEND"].endswith("RedisCache") else "",
    ),
    "REDIS_MAX_CONNECTIONS": env.int("CHAT_REDIS_MAX_CONNECTIONS", default=50),
    "REDIS_POOL_TIMEOUT_SECONDS": env.float("CHAT_REDIS_POOL_TIMEOUT_SECONDS", default=30.0),
    "LEASE_SECONDS": env.int("CHAT_LEASE_SECONDS", default=15),
    "LOG_TTL_SECONDS": env.int("CHAT_LOG_TTL_SECONDS", default=600),
}

# The cloud namespace (workspace tokens, API keys, /v1 Assistant Cloud API): read through `chatauth.cloud_conf`.
CLOUD: dict = {
    # Workspace-token keys: JSON list of {"kid", "secret"} (HS256, >= 32 chars) or {"kid", "private_key"} (RS256 PEM).
    # The first signs, all verify. Unset: one HS256 key derived from SECRET_KEY (fine for one deployment; set
    # explicit keys to rotate without downtime).
    "SIGNING_KEYS": env.json("CLOUD_SIGNING_KEYS", default=[]),
    "TOKEN_TTL_SECONDS": env.int("CLOUD_TOKEN_TTL_SECONDS", default=300),
    "TOKEN_ISSUER": env.str("CLOUD_TOKEN_ISSUER", default="chat-backend"),
    "CLOCK_SKEW_SECONDS": env.int("CLOUD_CLOCK_SKEW_SECONDS", default=5),
    "WORKSPACE_ID_FORMAT": env.str("CLOUD_WORKSPACE_ID_FORMAT", default="{org_id}:{user_id}"),
    "PROJECT_ID": env.str("CLOUD_PROJECT_ID", default="default"),
    "ANONYMOUS_ENABLED": env.bool("CLOUD_ANONYMOUS_ENABLED", default=False),
    "REFRESH_TOKEN_TTL_SECONDS": env.int("CLOUD_REFRESH_TOKEN_TTL_SECONDS", default=30 * 24 * 3600),
    "JWKS_CACHE_TTL_SECONDS": env.int("CLOUD_JWKS_CACHE_TTL_SECONDS", default=3600),
    "JWKS_REFRESH_INTERVAL_SECONDS": env.int("CLOUD_JWKS_REFRESH_INTERVAL_SECONDS", default=60),
    "JWKS_TIMEOUT_SECONDS": env.float("CLOUD_JWKS_TIMEOUT_SECONDS", default=3.0),
    "CORS_ALLOWED_ORIGINS": env.list("CLOUD_CORS_ALLOWED_ORIGINS", default=[]),
}

# The ops namespace (webhooks, production start-up checks): read by chatauth.webhooks and config.health.
OPS: dict = {
    # The Svix signing secret of the Clerk webhook endpoint (whsec_...); unset: /webhooks/clerk answers 503.
    "CLERK_WEBHOOK_SIGNING_SECRET": env.str("CLERK_WEBHOOK_SIGNING_SECRET", default=""),
}

# HTTPS behind a TLS-terminating load balancer: all off by default, turn them on in production.
if env.bool("SECURE_PROXY_SSL", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT: bool = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load-balancer probes speak plain HTTP
SECURE_HSTS_SECONDS: int = env.int("SECURE_HSTS_SECONDS", default=0)
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
