"""The packages' import direction (docs/architecture.md), checked on the source itself."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import sqlalchemy as sa

from core.db import Base

ROOT = Path(__file__).resolve().parent.parent

#: Each package and the packages it may import, in the one direction
#: core ← ledger ← accounts ← billing ← payments ← notices ← portal ← console, with demo on top.
ORDER = [
    "core",
    "ledger",
    "accounts",
    "billing",
    "payments",
    "notices",
    "portal",
    "console",
    "demo",
]
ALLOWED = {package: set(ORDER[: i + 1]) for i, package in enumerate(ORDER)}
ALLOWED["scheduler"] = {"core"}
ALLOWED["wsgi"] = {"core"}
#: The app factory is the one place that knows every package: it registers their blueprints.
FACTORY = ROOT / "core" / "app.py"
#: `munibill scheduler` and `munibill jobs` read the schedule table, which itself imports only core.
SCHEDULE_READERS = {(ROOT / "core" / "cli.py", "scheduler")}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every import in a file, at any depth, that is one of ours."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        elif by_name := _imported_by_name(node):
            names = [by_name]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names]
    return [(line, package) for line, package in found if package in ALLOWED]


def _imported_by_name(node: ast.AST) -> str | None:
    """The module of `importlib.import_module("x.y")` or `__import__("x.y")` with a literal name."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = node.args[0]
    if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
        return first.value if isinstance(first.value, str) else None
    return None


def sources() -> list[tuple[str, Path]]:
    """(package, file) of every source file of the app; tests, bench and migrations aside."""
    files = [(package, path) for package in ORDER for path in (ROOT / package).rglob("*.py")]
    return files + [("scheduler", ROOT / "scheduler.py"), ("wsgi", ROOT / "wsgi.py")]


def test_every_package_imports_only_the_packages_before_it():
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {imported} ({package} may import "
        f"{', '.join(p for p in ORDER if p in ALLOWED[package])})"
        for package, path in sources()
        if path != FACTORY
        for line, imported in imported_packages(path)
        if imported not in ALLOWED[package] and (path, imported) not in SCHEDULE_READERS
    ]
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_an_import_against_the_direction(tmp_path):
    upward = tmp_path / "upward.py"
    upward.write_text(
        "def f():\n    from payments.models import Payment\n    import notices.render\n"
    )
    assert imported_packages(upward) == [(2, "payments"), (3, "notices")]
    assert "payments" not in ALLOWED["ledger"] and "notices" not in ALLOWED["billing"]


def test_the_app_factory_is_the_one_place_that_knows_every_package():
    knows = {package for _line, package in imported_packages(FACTORY)}
    assert knows == set(ORDER)
    assert all(path.is_dir() for path in (ROOT / package for package in ORDER))


def named_tables() -> list[tuple[str, sa.TableClause]]:
    """Tables a package names with sa.table() instead of importing a model of a later package."""
    found = []
    for _package, path in sources():
        if "sa.table(" not in path.read_text(encoding="utf-8"):
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        found += [
            (f"{module.__name__}.{name}", value)
            for name, value in vars(module).items()
            if isinstance(value, sa.TableClause) and not isinstance(value, sa.Table)
        ]
    return found


def test_every_table_named_instead_of_imported_matches_its_model(app):
    named = named_tables()
    assert {table.name for _where, table in named} >= {"account", "invoice", "payment", "rate_plan"}
    wrong = []
    for where, table in named:
        model = Base.metadata.tables.get(table.name)
        if model is None:
            wrong.append(f"{where}: no table {table.name}")
            continue
        for column in table.columns:
            real = model.columns.get(column.name)
            if real is None:
                wrong.append(f"{where}: {table.name} has no column {column.name}")
            elif not issubclass(real.type.python_type, column.type.python_type):
                wrong.append(
                    f"{where}: {table.name}.{column.name} is {real.type.python_type.__name__}, "
                    f"named as {column.type.python_type.__name__}"
                )
    assert not wrong, "\n".join(wrong)
