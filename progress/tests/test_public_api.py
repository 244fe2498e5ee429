"""The public API is declared in code: each public module's __all__ is the docs table's row,
and the demo host (curation, progressproject) imports nothing else of progress."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE_ROW = re.compile(r"^\| `(progress(?:\.\w+)+)` \| ([^|]*) \|", re.MULTILINE)


def documented() -> dict[str, set[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## The public API", 1)[1].split("\n## ", 1)[0]
    return {
        module: set(re.findall(r"`(\w+)`", names)) for module, names in TABLE_ROW.findall(section)
    }


def test_the_docs_table_lists_public_modules():
    assert "progress.tracker" in documented() and len(documented()) >= 15


@pytest.mark.parametrize("module", sorted(documented()))
def test_each_public_module_declares_exactly_the_documented_names(module):
    imported = importlib.import_module(module)
    declared = getattr(imported, "__all__", None)
    assert declared is not None, f"{module} declares no __all__"
    assert set(declared) == documented()[module]
    missing = [name for name in declared if not hasattr(imported, name)]
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"


def progress_imports(path: Path) -> list[tuple[int, str, str]]:
    """(line, module, name) for every name path takes from progress, attributes included."""
    tree = ast.parse(path.read_text())
    found: list[tuple[int, str, str]] = []
    aliases: dict[str, str] = {}  # local name -> progress module it stands for
    for node in ast.walk(tree):
        module = node.module or "" if isinstance(node, ast.ImportFrom) else ""
        if module == "progress" or module.startswith("progress."):
            for alias in node.names:
                if module == "progress":
                    aliases[alias.asname or alias.name] = f"progress.{alias.name}"
                else:
                    found.append((node.lineno, module, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("progress.") and alias.asname:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.append((node.lineno, aliases[node.value.id], node.attr))
    return found


HOST_FILES = sorted(
    path
    for folder in ("curation", "progressproject")
    for path in (ROOT / folder).rglob("*.py")
    if "tests" not in path.parts and "migrations" not in path.parts
)


def test_the_demo_host_imports_only_the_public_api():
    public = documented()
    strays = [
        f"{path.relative_to(ROOT)}:{line}: {module}.{name}"
        for path in HOST_FILES
        for line, module, name in progress_imports(path)
        if name not in public.get(module, set())
        and not (module.startswith("progress.management") or module == "progress.apps")
    ]
    assert not strays, "internal names used by the demo host:\n" + "\n".join(strays)
