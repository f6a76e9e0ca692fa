"""What ships to Lambda imports nothing that stays behind: ``functions/`` and ``app.py`` never import
``local`` (the local stack), ``iop`` (the operator commands) or ``tests`` (fakes, factories).

The deployment zip holds ``app.py`` and ``functions/`` only, so such an import would work on a
laptop and fail in AWS. Two checks: every import statement in the source (also those inside
functions, and ``importlib.import_module("...")`` with a literal name), and the modules a fresh
interpreter holds after importing ``app`` and every module of ``functions``.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEFT_BEHIND = frozenset({"local", "iop", "tests"})


def shipped_sources() -> list[Path]:
    return [ROOT / "app.py", *sorted((ROOT / "functions").rglob("*.py"))]


def imported_names(source: str) -> Iterator[tuple[int, str]]:
    """(line, dotted module name) of every absolute import in ``source``, dynamic ones with a literal name too."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name in {"import_module", "__import__"} and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def forbidden_imports(source: str) -> list[tuple[int, str]]:
    return [(line, name) for line, name in imported_names(source) if name.split(".")[0] in LEFT_BEHIND]


@pytest.mark.parametrize(
    "source",
    [
        "from local.clock import OffsetClock",
        "import iop.cli",
        "def f():\n    from tests.fakes import RecordingSms\n",
        "import importlib\nimportlib.import_module('local.cli')",
        "__import__('iop')",
    ],
)
def test_the_scan_finds_each_kind_of_import(source: str) -> None:
    assert forbidden_imports(source)


@pytest.mark.parametrize(
    "source",
    ["from functions.core import aws", "import localisation", "from . import local", "import testsuite"],
)
def test_the_scan_leaves_other_imports_alone(source: str) -> None:
    assert forbidden_imports(source) == []


def test_no_shipped_module_imports_local_iop_or_tests() -> None:
    sources = shipped_sources()
    assert len(sources) > 20 and ROOT / "app.py" in sources
    found = {
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sources
        for line, name in forbidden_imports(path.read_text(encoding="utf-8"))
    }
    assert found == set()


def test_importing_app_and_every_function_module_loads_nothing_left_behind() -> None:
    probe = (
        "import importlib, json, pkgutil, sys\n"
        "import app, functions\n"
        "for info in pkgutil.walk_packages(functions.__path__, 'functions.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = json.loads(done.stdout)
    assert "app" in modules and "functions.core.http" in modules
    assert [m for m in modules if m.split(".")[0] in LEFT_BEHIND] == []


def test_iop_registration_goes_one_way_cli_imports_the_commands_none_imports_cli() -> None:
    commands = sorted(p for p in (ROOT / "iop").glob("*.py") if p.name not in {"cli.py", "__main__.py"})
    assert {p.stem for p in commands} >= {"common", "dlq", "eligibility", "patient", "reminders", "roster"}
    for path in commands:
        names = [name for _, name in imported_names(path.read_text(encoding="utf-8"))]
        assert "iop.cli" not in names and "importlib" not in names, path.name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "iop"
                    and any(a.name == "cli" for a in n.names)], path.name


def test_python_dash_m_iop_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "iop", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "{run,invoke,staff,roster,sessions,attendance,eligibility,patient,dlq,audit,checkins}" in done.stdout
