"""The layering of DESIGN.md §1 is a checked contract: `lint-imports` (import-linter, contracts
in pyproject.toml) passes on the tree and fails on a copy with one deliberately wrong import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

PACKAGES = (
    "config",
    "core",
    "users",
    "orgs",
    "goals",
    "evaluations",
    "dashboards",
    "live",
    "jobs",
    "perf",
)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def tree_copy(tmp_path: Path) -> Path:
    base = Path(settings.BASE_DIR)
    shutil.copy(base / "pyproject.toml", tmp_path)
    for package in PACKAGES:
        shutil.copytree(
            base / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def _append(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_tree_keeps_every_layering_contract(tree_copy):
    result = _lint_imports(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "contract"),
    [
        ("core/errors.py", "import orgs.models", "Apps are layered"),
        ("users/models.py", "from goals import models as goal_models", "Apps are layered"),
        ("goals/selectors.py", "import perf.demo", "No app imports perf or config"),
        ("orgs/audit.py", "from config import settings as wiring", "No app imports perf"),
        ("perf/views.py", "import config.urls", "perf sits above every app but below config"),
    ],
)
def test_a_deliberately_wrong_import_breaks_the_check(tree_copy, module, wrong_import, contract):
    _append(tree_copy / module, wrong_import)

    result = _lint_imports(tree_copy)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract}" in result.stdout
    assert "BROKEN" in result.stdout
