"""The layering the architecture promises, checked on the code itself."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cbred_ray"
REDUCTION = ("spaces", "graphs", "stats", "cluster", "select", "pipeline")
"""The sub-packages that make a reduction: none may read accuracies (evaluate/, report/)."""


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", REDUCTION)
def test_nothing_that_makes_a_reduction_imports_evaluation_or_report(package):
    for path in sorted((PACKAGE / package).rglob("*.py")):
        bad = sorted(n for n in _imports(path) if n.startswith(("cbred_ray.evaluate", "cbred_ray.report")))
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


@pytest.mark.parametrize("package", ("spaces", "graphs", "stats", "cluster", "select"))
def test_ray_and_the_config_objects_stay_in_the_orchestration_layer(package):
    for path in sorted((PACKAGE / package).rglob("*.py")):
        bad = sorted(n for n in _imports(path) if n == "ray" or n.startswith("ray.") or n == "cbred_ray.config")
        assert not bad, f"{path.relative_to(PACKAGE)} imports {bad}"


def test_reading_a_config_does_not_load_torch():
    code = ("import sys; from cbred_ray.config import load_config; load_config('configs/nb201_cifar100_paper.yaml'); "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PACKAGE.parent)
    assert done.stdout.strip() == "False"
