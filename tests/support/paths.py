"""Where things are on disk, said once so a test's own depth in the tree never matters."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (manage.py, Makefile, pyproject.toml)."""

NODE_DIR = ROOT / "tests" / "node"
"""The real npm clients (`ai`, `assistant-cloud`, `@clerk/backend`, ...) and the scripts that drive them."""
