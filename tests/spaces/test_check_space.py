"""check_space, the conformance suite of a space: every built-in space passes it, and it catches the faults
it is meant to catch (identifiers that do not round-trip, a cost model that is not the network's, features
whose width follows the sample, a canonical form that merges different networks)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.spaces import build_space, list_spaces
from cbred_ray.spaces.cell import CellSpace
from cbred_ray.spaces.check import CHECKS, CheckResult, SpaceCheckFailed, check_space, iter_checks

REPO = Path(__file__).resolve().parents[2]
STRUCTURAL = [name for name in CHECKS if name != "statistics"]


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The networks checked are tiny: one thread, so that OpenMP threads spinning on a CPU shared with other
    processes do not multiply the time (several times over on a busy 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _passed(results: list[CheckResult], expected: list[str]) -> None:
    assert [r.name for r in results] == expected
    assert all(r.passed and r.detail and r.seconds >= 0 for r in results)


@pytest.mark.parametrize(("name", "params"), [
    ("cell", {"nodes": 3}),
    ("cell", {"nodes": 5}),
    ("nb101", {"max_vertices": 5}),
    ("darts", {"channels": 4, "cells": 5}),
], ids=["cell3", "cell5", "nb101-5", "darts"])
def test_builtin_spaces_pass_the_structural_checks(name, params):
    _passed(check_space(build_space(name, params), statistics=False), STRUCTURAL)


def test_nb201_passes_every_check_statistics_included():
    results = check_space(build_space("nb201"))
    _passed(results, list(CHECKS))
    by_name = {r.name: r.detail for r in results}
    assert "trace to one program" in by_name["canonical"]
    assert "+ 3 x graph kernels" in by_name["traced_graph"]  # the small network: 3 cells around a fixed frame


def test_nb101_statistics_refuse_the_thin_network():
    space = build_space("nb101", {"max_vertices": 5})
    (result,) = check_space(space, skip=STRUCTURAL)
    assert result.passed and "refused: linear_regions (needs the thin network, which space 'nb101' does not have)" \
        in result.detail


def test_macro_space_passes_the_structural_checks():
    if "macro" not in list_spaces():
        pytest.skip("no 'macro' space is registered")
    _passed(check_space(build_space("macro"), statistics=False), STRUCTURAL)


@pytest.mark.parametrize("check", [pytest.param(check, id=name)
                                   for name, check in iter_checks(CellSpace(nodes=3), statistics=False)])
def test_iter_checks_parametrises_one_test_per_check(check):
    assert check().passed


# -- faults check_space must catch ---------------------------------------------------------------
class DroppedCharacter(CellSpace):
    """Its identifiers lose their last character."""

    def format_ids(self, indices: np.ndarray) -> list[str]:
        return [text[:-1] for text in super().format_ids(indices)]


class ParsedOffByOne(CellSpace):
    """Its identifiers parse to the next index."""

    def parse_id(self, text: str) -> int:
        return super().parse_id(text) + 1


class CostPlusOne(CellSpace):
    """Its cost model counts one parameter its networks do not have."""

    def costs(self, indices: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        params, macs = super().costs(indices, num_classes)
        return params + 1, macs


class GrowingFeatures(CellSpace):
    """Its adjacency feature has one more column per architecture asked for."""

    def features(self, canonical: np.ndarray, name: str) -> np.ndarray:
        rows = super().features(canonical, name)
        return np.hstack([rows, np.zeros((len(rows), len(rows)))]) if name == "adjacency" else rows


class MergesEverything(CellSpace):
    """Its canonical form merges every cell into the empty one: idempotent and in range, but not equivalent."""

    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        return np.zeros(len(np.asarray(indices).ravel()), dtype=np.int64)


class OneWayNeighbours(CellSpace):
    """Its neighbourhood is the next index only: a step that no step undoes."""

    def neighbours(self, index: int) -> np.ndarray:
        return np.array([(index + 1) % self.size], dtype=np.int64)


class NoNeighbourhood(CellSpace):
    """A space that says nothing of its neighbourhood (no radices, no neighbours)."""

    @property
    def radices(self) -> None:
        return None


@pytest.mark.parametrize(("space", "failed", "says"), [
    (DroppedCharacter(nodes=3), "identifiers", "does not parse back"),
    (ParsedOffByOne(nodes=3), "identifiers", "does not round-trip"),
    (CostPlusOne(nodes=3), "costs", "parameters, its standard network"),
    (GrowingFeatures(nodes=3), "features", "the width changes with the sample"),
    (MergesEverything(nodes=3), "canonical", "trace to different programs"),
    (OneWayNeighbours(nodes=3), "neighbours", "lists it back"),
    (NoNeighbourhood(nodes=3), "neighbours", "defines no neighbourhood"),
], ids=["format-drops-a-character", "parse-off-by-one", "costs-plus-one", "features-width-follows-sample",
        "canonical-merges-different-networks", "neighbours-one-way", "no-neighbourhood"])
def test_check_space_catches_the_fault(space, failed, says):
    with pytest.raises(SpaceCheckFailed) as caught:
        check_space(space, statistics=False)
    assert caught.value.failed == [failed]
    line = next(line for line in str(caught.value).splitlines() if line.strip().startswith(f"{failed}:"))
    assert says in line and "architecture " in line  # the reason names the architecture involved
    assert len(caught.value.results) == len(STRUCTURAL)


def test_a_failed_check_from_iter_checks_raises_on_its_own():
    checks = dict(iter_checks(CostPlusOne(nodes=3), statistics=False))
    assert checks["identifiers"]().passed
    with pytest.raises(SpaceCheckFailed, match="costs: architecture"):
        checks["costs"]()


def test_unknown_check_names_are_refused():
    with pytest.raises(BadInput, match="unknown checks"):
        check_space(CellSpace(nodes=3), skip=["no_such_check"])


def test_the_checker_imports_without_torch():
    code = "import sys, cbred_ray.spaces.check; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.strip() == "False"
