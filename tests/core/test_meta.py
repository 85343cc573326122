"""Meta-tests (after datasette): every hook is documented, and every hook has a test."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from assaykit import hookspecs

HOOKS = sorted(
    name
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("assaykit_")
)
TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def test_there_are_hooks() -> None:
    assert HOOKS == [
        "assaykit_register_assays",
        "assaykit_register_exporters",
        "assaykit_register_readers",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_hookspecs(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert len(doc) > 200, f"{hook} needs a docstring that states its contract"
    assert "register(" in doc


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented_in_contributing(hook: str) -> None:
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert f"`{hook}`" in text, f"CONTRIBUTING.md must explain {hook}"


def _test_functions() -> set[str]:
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    return names


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook: str) -> None:
    assert f"test_{hook}" in _test_functions(), f"write a test named test_{hook}"


def test_hookspec_module_docstring_is_the_contract() -> None:
    doc = inspect.getdoc(hookspecs) or ""
    assert "check_pending" in doc and "entry-point" in doc
