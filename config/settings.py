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
    "chatauth.cloud.cors.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "chatauth.clerk.middleware.ClerkAuthMiddleware",
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
