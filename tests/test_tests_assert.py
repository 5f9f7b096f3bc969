"""Every test checks something: a ``test_*`` function of tests/ (and its subfolders) holds
an ``assert``, a ``pytest.raises``/``warns``/``fail``, an ``assert_*`` call (numpy,
pandas, hypothesis …), or calls a helper of tests/ whose own body does (directly or
through another helper).

Helpers are looked up by name among the functions defined anywhere in tests/ (plain
calls, ``self.``/``cls.`` methods and attributes of a module imported from tests/).
"""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
PYTEST_CHECKS = {"raises", "warns", "fail", "deprecated_call"}
# Tests that legitimately check nothing themselves, each with its reason.
ALLOWED: dict[str, str] = {}


def _called_names(node: ast.AST, module_aliases: set[str]) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if not isinstance(call, ast.Call):
            continue
        func = call.func
        if isinstance(func, ast.Name):
            names.add(func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and (
                func.value.id in {"self", "cls"} | module_aliases):
            names.add(func.attr)
    return names


def _checks_directly(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Assert):
            return True
        if isinstance(sub, ast.Call):
            func = sub.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.startswith("assert"):
                return True
            if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                    and func.value.id == "pytest" and func.attr in PYTEST_CHECKS):
                return True
    return False


def _module_aliases(tree: ast.Module) -> set[str]:
    """Names under which a module of tests/ is imported (``from tests import x as y``)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "tests":
            aliases.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            aliases.update(a.asname or a.name.split(".")[-1] for a in node.names
                           if a.name.split(".")[0] == "tests")
    return aliases


def scan(root: Path = TESTS) -> list[str]:
    """``path::test`` of every test function under ``root`` that checks nothing."""
    functions: list[tuple[str, ast.AST, set[str]]] = []    # (qualified name, node, aliases)
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        aliases = _module_aliases(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.append((f"{path.relative_to(root)}::{node.name}", node, aliases))

    checking = {qual.split("::")[1] for qual, node, _ in functions if _checks_directly(node)}
    calls = {qual: _called_names(node, aliases) for qual, node, aliases in functions}
    changed = True
    while changed:                  # helpers that call helpers that check
        changed = False
        for qual, _, _ in functions:
            name = qual.split("::")[1]
            if name not in checking and calls[qual] & checking:
                checking.add(name)
                changed = True

    return [qual for qual, node, _ in functions
            if node.name.startswith("test_") and qual.split("/")[-1].startswith("test_")
            and not _checks_directly(node) and not calls[qual] & checking
            and qual not in ALLOWED]


def test_every_test_function_checks_something():
    assert scan() == []


def test_the_scan_flags_a_test_that_only_prints(tmp_path):
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "def helper(v):\n    assert v == 1\n"
        "def via(v):\n    helper(v)\n"
        "def quiet(v):\n    print(v)\n"
        "def test_prints():\n    quiet(1)\n"
        "def test_asserts():\n    assert 1\n"
        "def test_raises():\n    with pytest.raises(ValueError):\n        int('x')\n"
        "def test_helper():\n    via(1)\n"
        "def test_numpy():\n    import numpy as np\n    np.testing.assert_equal(1, 1)\n"
        "class TestK:\n    def test_method(self):\n        self.check()\n"
        "    def check(self):\n        assert True\n")
    assert scan(tmp_path) == ["test_x.py::test_prints"]
