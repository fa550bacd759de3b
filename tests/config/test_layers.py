"""The package layers: `config` (the kernel) <- `chatauth` (who is calling) <- `threads` (chat data and faces).

Every import statement of the three packages is read from the source (module level and inside functions),
so a lazy import cannot hide a cycle. `config.urls`, `config.asgi` and `config.wsgi` are the composition
root: they wire the apps together and are the only kernel modules that may name them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support.paths import ROOT

LAYERS = {"config": 0, "chatauth": 1, "threads": 2}
COMPOSITION_ROOT = {"config/urls.py", "config/asgi.py", "config/wsgi.py", "config/settings.py"}
MAX_MODULE_LINES = 400


def _modules() -> list[Path]:
    return sorted(p for package in LAYERS for p in (ROOT / package).rglob("*.py") if "migrations" not in p.parts)


def _imported_packages(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & set(LAYERS)


def _strings_naming_packages(path: Path) -> set[str]:
    """Dotted paths in string literals (`include("threads.api.urls")`, settings entries)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "." in node.value:
            head = node.value.split(".")[0]
            if head in LAYERS and " " not in node.value:
                found.add(head)
    return found


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_its_own_layer_and_those_below(path):
    name = str(path.relative_to(ROOT))
    if name in COMPOSITION_ROOT:
        return
    own = LAYERS[path.relative_to(ROOT).parts[0]]
    upward = {p for p in _imported_packages(path) | _strings_naming_packages(path) if LAYERS[p] > own}
    assert upward == set(), f"{name} reaches up into {sorted(upward)}: the layers are config <- chatauth <- threads"


def test_the_layer_check_sees_the_known_edges():
    """A guard that cannot fail is no guard: the real edges chatauth -> config and threads -> chatauth exist."""
    assert "config" in _imported_packages(ROOT / "chatauth" / "cloud" / "views.py")
    assert "chatauth" in _imported_packages(ROOT / "threads" / "api" / "views.py")
    assert "threads" in _strings_naming_packages(ROOT / "config" / "urls.py")


FACES = {"api", "chat", "cloud", "web"}
WIRING = {"apps.py", "admin.py", "urls.py", "openapi.py"}  # the edges that assemble the faces, not the core


def _faces_imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n.split(".")[1] for n in names if n.startswith("threads.") and n.split(".")[1] in FACES}
    return found


CORE = sorted(
    [p for p in (ROOT / "threads").glob("*.py") if p.name not in WIRING]
    + list((ROOT / "threads" / "services").glob("*.py"))
)


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_chat_data_core_never_imports_a_face(path):
    """`threads.services` and its neighbours serve every face; a face reacts to the core through threads.signals."""
    assert _faces_imported(path) == set(), f"{path.relative_to(ROOT)} imports the faces {sorted(_faces_imported(path))}"


def test_the_face_check_sees_an_import_of_a_face():
    assert _faces_imported(ROOT / "threads" / "apps.py") == {"chat"}
    assert {"threads/services/threads.py", "threads/services/messages.py"} <= {str(p.relative_to(ROOT)) for p in CORE}


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_reads_in_one_sitting(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_MODULE_LINES})"
