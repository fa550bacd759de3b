"""Settings for the test suite: the production settings module, with test-only secrets filled in.

The environment still wins (DATABASE_URL selects PostgreSQL, CACHE_URL selects Redis).
"""

import os

os.environ.setdefault("DEBUG", "false")  # the suite runs as production does, even with no production signal set
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")  # static files from the apps: no collectstatic in tests

from config.settings import *  # noqa: F403
from config.settings import BASE_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CLERK["DEV_KEY_FILE"] = str(BASE_DIR / "var" / "test_dev_issuer_key.pem")  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A shared in-memory database, so a server thread started by a test sees the test's data.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = "file:testdb?mode=memory&cache=shared"  # noqa: F405

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# config.settings skips its production start-up refusal (empty ALLOWED_HOSTS, no Clerk key) for this module only:
# the suite runs with DEBUG off and configures Clerk per test.
