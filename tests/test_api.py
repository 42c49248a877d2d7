"""The public API: one list of names in pt2jax/__init__.py, each importable, nothing private in it;
the checks API (what hidden checks import) resolves too; the kit never imports the grader."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pt2jax
from pt2jax import checks

SRC = Path(pt2jax.__file__).parent


def test_public_names_are_one_list_and_all_resolve() -> None:
    assert pt2jax.__all__ == sorted(pt2jax._EXPORTS)
    for name in pt2jax.__all__:
        assert not name.startswith("_")
        value = getattr(pt2jax, name)
        module = importlib.import_module(f"pt2jax.{pt2jax._EXPORTS[name]}")
        assert getattr(module, name) is value
    assert set(dir(pt2jax)) >= set(pt2jax.__all__)


def test_unknown_names_raise_attribute_error() -> None:
    try:
        pt2jax.not_a_name  # noqa: B018
    except AttributeError as exc:
        assert "not_a_name" in str(exc)
    else:
        raise AssertionError("pt2jax.not_a_name resolved")


def test_checks_api_resolves() -> None:
    for name in checks.__all__:
        assert getattr(checks, name) is not None, name


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


def test_kit_never_imports_the_grader() -> None:
    for path in sorted((SRC / "kit").glob("[a-z]*.py")):
        bad = {m for m in _imports(path) if m.startswith((".", "pt2jax"))}
        assert not bad, f"kit/{path.name} imports {bad}: it ships to students standalone"


def test_each_subpackage_says_what_it_is_for() -> None:
    for folder in sorted(p for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("_")):
        init = folder / "__init__.py"
        assert init.exists() and ast.get_docstring(ast.parse(init.read_text())), f"{folder.name}/ needs a docstring"
