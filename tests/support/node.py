"""The rule for tests that run a real npm client under Node: skipped, saying why, only where it cannot run."""

from __future__ import annotations

import shutil

import pytest

from tests.support.paths import NODE_DIR


def needs_npm(package: str) -> pytest.MarkDecorator:
    """Skip unless `node` is on PATH and `package` is installed in tests/node (`make node` runs `npm ci` there)."""
    missing = shutil.which("node") is None or not (NODE_DIR / "node_modules" / package).exists()
    return pytest.mark.skipif(missing, reason=f"needs node and {package} from `npm ci` in tests/node")
