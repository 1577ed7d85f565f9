"""The Python API: cbred_ray.reduce and cbred_ray.open_store, a space given as an object, the logging
convention, and the runnable examples of docs/python.md."""
from __future__ import annotations

import logging
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import cbred_ray
from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import CellSpace

REPO = Path(__file__).resolve().parents[1]

SMALL = {
    "seed": 1,
    "graphs": {"shard_size": 200},
    "stats": {"names": ["logsynflow", "params"], "data": {"source": None, "batch_size": 8}, "num_classes": 10,
              "shard_size": 8, "width": 4},
    "cluster": {"k": 3, "n_init": 1},
    "select": {"statistics": ["logsynflow"], "bootstrap": 0, "quick": {"enabled": True, "sample_per_cluster": 3}},
}


@dataclass(frozen=True)
class PairCells(CellSpace):
    """A user's space defined in this test module (which no Ray worker can import): 3-node cells over
    two operations, with its own identifiers, reaching the workers by value."""

    nodes: int = 3
    ops: tuple[str, ...] = ("skip_connect", "nor_conv_3x3")
    name: str = "test-pair-cells"

    def format_ids(self, indices: np.ndarray) -> list[str]:
        return ["".join("sc"[op] for op in cell) for cell in self.cells_of(indices)]

    def parse_id(self, text: str) -> int:
        if not isinstance(text, str) or len(text) != self.num_edges or set(text) - {"s", "c"}:
            raise BadInput(f"not a {self.name} identifier: {text!r}")
        return int(self.indices_of(np.asarray([["sc".index(ch) for ch in text]]))[0])


def test_a_space_defined_here_runs_end_to_end_as_an_object(tmp_path):
    import ray

    before = ray.is_initialized()
    space = PairCells()
    result = cbred_ray.reduce(SMALL, out=tmp_path / "store", space=space, progress=False)
    assert ray.is_initialized() == before  # a Ray the call started is shut down again
    assert result.space is space and result.config.space.name == space.name
    assert len(result.selection) == result.manifest["stages"]["selection"]["rows"] > 0
    assert all(space.parse_id(arch) in range(space.size) for arch in result.ids)  # the space's own identifiers
    stats = result.stats
    assert stats["logsynflow"].notna().all() and len(stats) == result.manifest["rows"]["stats"]
    again = cbred_ray.open_store(tmp_path / "store", space=space)
    assert again.ids == result.ids and again.cluster == result.cluster
    assert result.selection_table.num_rows == len(result.ids)


def test_a_config_path_with_overrides_and_open_store_agree(tmp_path, ray_local):
    result = cbred_ray.reduce(REPO / "configs" / "nb201_tiny.yaml", out=tmp_path / "s",
                              overrides=["space.sample=400", "graphs.shard_size=200"], progress=False)
    assert result.config.space.sample == 400 and result.manifest["space"]["architectures"] == 400
    opened = cbred_ray.open_store(tmp_path / "s")
    assert opened.selection.equals(result.selection)
    assert set(opened.scores.columns) >= {"cluster", "score", "selected"}
    assert int(opened.scores.loc[opened.scores["selected"], "cluster"].iloc[0]) == opened.cluster


def test_a_class_defined_again_under_its_name_replaces_itself():
    def define():
        @dataclass(frozen=True)
        class Redefined(CellSpace):  # the same cell of a notebook, run twice
            name: str = "test-redefined-cells"
        return Redefined

    first, second = define(), define()
    assert cbred_ray.api.space_section(first())["name"] == "test-redefined-cells"
    cbred_ray.api.space_section(second())
    assert cbred_ray.spaces.space_class("test-redefined-cells") is second


def test_a_name_taken_by_another_class_is_refused():
    @dataclass(frozen=True)
    class Impostor(CellSpace):
        name: str = "nb201"

    with pytest.raises(BadInput, match="registered to"):
        cbred_ray.api.as_config({}, space=Impostor())


def test_open_store_refuses_what_is_not_a_finished_reduction(tmp_path):
    from cbred_ray.store import Store

    with pytest.raises(BadInput):
        cbred_ray.open_store(tmp_path / "nothing")
    Store(tmp_path / "half").write_manifest({"kind": "run", "config": {}, "config_hash": "x", "status": "running",
                                                "stages": {}})
    with pytest.raises(BadInput, match="not finished"):
        cbred_ray.open_store(tmp_path / "half")


def test_the_library_installs_no_log_handler():
    code = "import logging, cbred_ray; print(len(logging.getLogger('cbred').handlers))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert done.stdout.strip() == "0"
    assert logging.getLogger("cbred").name == "cbred"


def _examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (REPO / "docs" / "python.md").read_text(), flags=re.S)


def test_the_python_docs_have_examples():
    assert len(_examples()) >= 2


@pytest.mark.parametrize("number", range(len(_examples())))
def test_the_python_docs_examples_run(number, tmp_path):
    """Each example of docs/python.md runs as written, from the repository's root, in a fresh interpreter."""
    script = tmp_path / "example.py"
    script.write_text(_examples()[number].replace("stores/", f"{tmp_path}/stores/"))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
