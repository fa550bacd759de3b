"""Settings for the test suite: the production settings module, with test-only secrets filled in.

The environment still wins (DATABASE_URL selects PostgreSQL, CACHE_URL selects Redis). Each run gets its own test
database, Redis database and cache key prefix (tests/support/isolation.py), so runs can share a machine.
"""

import os

os.environ.setdefault("DEBUG", "false")  # the suite runs as production does, even with no production signal set
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789")
os.environ.setdefault("WHITENOISE_USE_FINDERS", "true")  # static files from the apps: no collectstatic in tests

from config.settings import *  # noqa: F403
from config.settings import BASE_DIR
from tests.support import isolation

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CLERK["DEV_KEY_FILE"] = str(BASE_DIR / "var" / "test_dev_issuer_key.pem")  # noqa: F405

_test_db = DATABASES["default"].setdefault("TEST", {})  # noqa: F405
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file of this run's own (not a shared in-memory database): the live-server thread and the test each have a
    # connection, and SQLite's busy timeout covers file locks, never shared-cache table locks.
    _test_db["NAME"] = str(isolation.RUN_DIR / "test.sqlite3")
else:
    # pytest-django creates it at the start of the run and drops it at the end.
    _test_db["NAME"] = f"test_{isolation.RUN_ID}_{DATABASES['default']['NAME']}"[:63]  # noqa: F405

if CACHES["default"]["BACKEND"].endswith("RedisCache"):  # noqa: F405
    # CACHE_URL names the Redis server; the run uses a database of that server no other run holds, under its own
    # key prefix, and so do the resumable chat's raw keys (CHAT_REDIS_URL defaults to the cache's location).
    CACHES["default"]["LOCATION"] = isolation.REDIS_URL  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = isolation.CACHE_KEY_PREFIX  # noqa: F405
    if not os.environ.get("CHAT_REDIS_URL"):
        CHAT["REDIS_URL"] = isolation.REDIS_URL  # noqa: F405

ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]

# config.settings skips its production start-up refusal (empty ALLOWED_HOSTS, no Clerk key) for this module only:
# the suite runs with DEBUG off and configures Clerk per test.
