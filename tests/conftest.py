"""Shared fixtures: the read-only shared data beside the checkout, and one local Ray."""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NB201_TABLE = SHARED / "nb201" / "nb201_test_accuracy.parquet"
CIFAR_SAMPLE = SHARED / "cifar100" / "cifar100_sample25.npz"
NB101_TABLE = SHARED / "nb101" / "nb101_test_accuracy.parquet"
NB301_SAMPLE = SHARED / "nb301" / "nb301_cifar10_sample400.parquet"
LOCAL_RAY = {"num_cpus": 2, "include_dashboard": False, "configure_logging": False, "log_to_driver": False}
"""How the tests' local Ray is started (a test that needs Ray down starts it again the same way)."""


@pytest.fixture(scope="session")
def nb201_table() -> Path:
    if not NB201_TABLE.is_file():
        pytest.skip("NB201 ground-truth table not present beside the checkout")
    return NB201_TABLE


@pytest.fixture(scope="session")
def ray_local():
    """A real in-process Ray cluster for the integration tests (2 CPUs)."""
    import ray

    ray.init(**LOCAL_RAY)
    yield ray
    ray.shutdown()


@pytest.fixture
def ray_local_put_back(ray_local):
    """The session's single-node Ray, which the test stops for a cluster of its own: started again after it."""
    yield ray_local
    ray_local.shutdown()
    ray_local.init(**LOCAL_RAY)


@contextmanager
def local_cluster(monkeypatch, workers: int, **worker_args) -> Iterator:
    """A multi-node Ray cluster on this machine: a head that only drives (no CPU, no GPU) and ``workers``
    worker nodes (``worker_args``: one CPU each by default), as raylets, named by RAY_ADDRESS as ``ray job
    submit`` names it, so the pipeline joins it.

    Ray writes the address of a cluster it starts this way into its temporary folder, where a plain
    ``ray.init()`` of any other process on the machine would find and join it; a folder of its own keeps the
    cluster to the test (a short one: Ray's sockets live under it)."""
    import ray
    from ray.cluster_utils import Cluster

    folder = tempfile.mkdtemp(prefix="cbred-ray-")
    with monkeypatch.context() as env:
        env.setenv("RAY_TMPDIR", folder)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "num_gpus": 0})
        try:
            for _ in range(workers):
                cluster.add_node(**{"num_cpus": 1, **worker_args})
            cluster.wait_for_nodes()
            env.setenv("RAY_ADDRESS", cluster.address)
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()
            shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def synthetic_stats_file(tmp_path_factory) -> Path:
    """Statistics for every NB201 architecture, made up from the cells (not measured): a
    stand-in for ``cbred export --stage stats`` so that tests of what comes after the
    statistics need not compute them. Equivalent architectures share their values, as
    real statistics do."""
    import numpy as np
    import pandas as pd

    from cbred_ray.spaces.cell import nb201
    from cbred_ray.spaces.cell.canonical import canonical_cells

    index = np.arange(nb201.SPACE_SIZE)
    canon = canonical_cells(nb201.cells_of(index))
    counts = np.stack([(canon == op).sum(axis=1) for op in range(len(nb201.OPS))], axis=1).astype(float)
    noise = np.random.default_rng(0).normal(size=(nb201.SPACE_SIZE, 3))[nb201.indices_of(canon)]
    frame = pd.DataFrame({
        "arch_str": [nb201.format_cell(c) for c in nb201.cells_of(index)],
        "naswot_v2": 2 * counts[:, 3] + counts[:, 2] - counts[:, 4] + noise[:, 0],
        "logsynflow": counts[:, 3] + 0.5 * counts[:, 2] + noise[:, 1],
        "ntk_cond": 10.0 + counts[:, 4] - counts[:, 3] + noise[:, 2] ** 2,
        "params": counts[:, 2] + 9 * counts[:, 3], "macs": counts[:, 2] + 9 * counts[:, 3],
        "error": None,
    })
    path = tmp_path_factory.mktemp("precomputed") / "stats.parquet"
    frame.to_parquet(path)
    return path


PRECOMPUTED_SCORED = ["naswot_v2", "logsynflow", "ntk_cond"]


def _precomputed_config(stats_file, **select):
    from cbred_ray.config import config_from_dict

    return config_from_dict({
        "seed": 2,
        "stats": {"names": [*PRECOMPUTED_SCORED, "params", "macs"], "precomputed": str(stats_file)},
        "cluster": {"k": [4, 8], "criterion": "silhouette", "n_init": 2},
        "select": {"statistics": PRECOMPUTED_SCORED, "top_fraction": 0.05, "bootstrap": 20, **select},
    })


@pytest.fixture(scope="session")
def precomputed_config():
    """Makes a C-BRED (Q + C) config reading a statistics file: K from a small grid, a cheap
    bootstrap; keyword arguments override the select section."""
    return _precomputed_config


@pytest.fixture(scope="session")
def precomputed_store(ray_local, synthetic_stats_file, tmp_path_factory):
    """A finished C-BRED (Q + C) run over the synthetic statistics: (store, manifest, stats file)."""
    from cbred_ray.pipeline.run import run_reduction
    from cbred_ray.store import Store

    out = tmp_path_factory.mktemp("qc") / "store"
    manifest = run_reduction(_precomputed_config(synthetic_stats_file), str(out), progress=False)
    return Store(out), manifest, synthetic_stats_file
