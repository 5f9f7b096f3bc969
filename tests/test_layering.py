"""The layers stay apart (read from the source with ``ast``, not by convention):

* only ``evaluation/`` imports both ``store`` and ``indicators`` (it is where the
  database meets the statistics);
* no module uses a private (``_name``) of another top-level package;
* ``dashboard/`` and ``reports/`` hold no SQL: no ``sqlalchemy`` query construction
  (``text``, ``select``, ``func``, tables); catching ``sqlalchemy.exc`` errors is fine;
* ``store/`` does not import ``ingest``; ``indicators/`` imports neither ``store`` nor
  any web or database library.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "store", "ingest", "indicators", "evaluation", "dashboard", "reports",
            "lantian")


def modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            yield package, path, ast.parse(path.read_text(encoding="utf-8"))


def imports(tree) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every absolute import, nested ones included."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.module, [a.name for a in node.names], node.lineno))
        elif isinstance(node, ast.Import):
            out.extend((a.name, [], node.lineno) for a in node.names)
    return out


def top(module: str) -> str:
    return module.split(".")[0]


MODULES = list(modules())


def test_the_rules_see_every_package():
    seen = {package for package, _, _ in MODULES}
    assert seen == set(PACKAGES)
    assert len(MODULES) > 100


def test_only_evaluation_imports_both_store_and_indicators():
    both = [str(path.relative_to(ROOT)) for package, path, tree in MODULES
            if package != "evaluation"
            and {"store", "indicators"} <= {top(m) for m, _, _ in imports(tree)}]
    assert both == []


def test_no_module_uses_another_packages_private_names():
    found = []
    for package, path, tree in MODULES:
        aliases = {}
        for module, names, line in imports(tree):
            if top(module) in PACKAGES and top(module) != package:
                if any(part.startswith("_") and not part.startswith("__")
                       for part in module.split(".")[1:]):
                    found.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
                for name in names:
                    if name.startswith("_"):
                        found.append(f"{path.relative_to(ROOT)}:{line} imports {module}.{name}")
                    aliases[name] = module
                if not names:
                    aliases[module.split(".")[0]] = module
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_")
                    and not node.attr.startswith("__")):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} uses "
                             f"{aliases[node.value.id]}.{node.attr}")
    assert found == []


SQL_TEXT = re.compile(r"\bSELECT\b.+\bFROM\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|\bDELETE FROM\b",
                      re.S)
SQL_NAMES = {"text", "select", "func", "insert", "update", "delete", "and_", "or_", "case",
             "Table", "MetaData", "bindparam"}


@pytest.mark.parametrize("package", ["dashboard", "reports"])
def test_no_sql_in_the_views(package):
    found = []
    for pkg, path, tree in MODULES:
        if pkg != package:
            continue
        for module, names, line in imports(tree):
            if module == "sqlalchemy" and set(names) & SQL_NAMES:
                found.append(f"{path.relative_to(ROOT)}:{line} imports {sorted(set(names) & SQL_NAMES)}")
            if module.startswith("store.schema") or (module == "store" and "schema" in names):
                found.append(f"{path.relative_to(ROOT)}:{line} imports the schema")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and SQL_TEXT.search(node.value)):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} SQL text")
    assert found == []


def test_store_does_not_import_ingest_and_indicators_imports_no_database():
    found = []
    for package, path, tree in MODULES:
        tops = {top(m) for m, _, _ in imports(tree)}
        if package == "store" and "ingest" in tops:
            found.append(f"{path.relative_to(ROOT)} imports ingest")
        if package == "indicators" and tops & {"store", "sqlalchemy", "dash", "flask",
                                               "evaluation", "dashboard", "ingest"}:
            found.append(f"{path.relative_to(ROOT)} imports {sorted(tops & {'store', 'sqlalchemy', 'dash', 'flask', 'evaluation', 'dashboard', 'ingest'})}")
    assert found == []
