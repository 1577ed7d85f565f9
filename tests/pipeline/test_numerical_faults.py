"""A statistic that is NaN or infinite for some architectures is stored as null with a reason,
and left out of the cluster scores, which say how many members they used.

Through the real engine, the real statistics table and the real selection stage (no Ray): a
statistic returns NaN, +inf or -inf for some cells, as an overflow would."""
import math

import numpy as np
import pyarrow as pa
import pytest

from cbred_ray.catalog import CATALOGUE, StatisticInfo
from cbred_ray.config import RunConfig, SelectConfig
from cbred_ray.pipeline.context import RunContext
from cbred_ray.pipeline.select_stage import run_select_stage
from cbred_ray.pipeline.stats_actor import stats_table
from cbred_ray.select.constraints import arch_costs
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical_cells
from cbred_ray.stats import Statistic, compute_stats, registry
from cbred_ray.stats.engine import summarise_repeats
from cbred_ray.store import Store

VALUES = [1.0, float("nan"), 2.0, 3.0, float("inf"), -float("inf")]
"""What the statistic gives for each of the six cells, in order: two clusters of three."""


def test_nan_and_infinite_values_are_null_with_a_reason_and_left_out_of_cluster_scores(monkeypatch, tmp_path):
    given = iter(VALUES)
    monkeypatch.setitem(registry.STATISTICS, "overflowing", Statistic(
        "overflowing", lambda net: next(given), True, False, "quality", "NaN or infinite for some cells"))
    monkeypatch.setitem(CATALOGUE, "overflowing", StatisticInfo(  # what the selection reads of it
        "overflowing", "standard", True, "quality", False, False, None, False, {}, "NaN or infinite for some cells"))
    rng = np.random.default_rng(5)
    arch_index = np.sort(rng.choice(nb201.SPACE_SIZE, 40, replace=False))
    canonical = nb201.indices_of(canonical_cells(nb201.cells_of(arch_index)))
    _, first = np.unique(canonical, return_index=True)
    arch_index, canonical = arch_index[np.sort(first)[:6]], canonical[np.sort(first)[:6]]  # six distinct cells

    names = ("overflowing", "params")
    results = {}
    for canon in canonical:  # in the order of VALUES
        ops = nb201.op_names(nb201.cells_of(np.array([canon]))[0])
        run = compute_stats(ops, names, None, seed=0, channels=8, cells_per_stage=1)
        results[int(canon)] = summarise_repeats([run], names)
    table = stats_table(nb201.SPACE, arch_index, canonical, results, names, False)
    rows = table.to_pylist()
    for row, value in zip(rows, VALUES):
        if math.isfinite(value):
            assert row["overflowing"] == value and row["error"] is None
        else:
            assert row["overflowing"] is None
            assert row["error"] == f"overflowing: StatisticFailed: overflowing is {value}"
        assert row["params"] > 0  # the other statistics of the same cell are kept

    store = Store(tmp_path / "s")
    store.write_shard("stats", 0, table)
    costs = arch_costs(nb201.SPACE, arch_index, 100)
    store.write_stage("clusters", pa.table({
        "arch_index": pa.array(arch_index, pa.int64()),
        "arch_str": pa.array([nb201.format_cell(c) for c in nb201.cells_of(arch_index)]),
        "canonical_index": pa.array(canonical, pa.int64()),
        "cluster": pa.array([0, 0, 0, 1, 1, 1], pa.int32()),
        "arch_params": pa.array(costs["params"].to_numpy(), pa.float64()),
        "arch_macs": pa.array(costs["macs"].to_numpy(), pa.float64()),
    }))
    # the statistic is this test's own, so the run config around the selection settings is not validated
    config = RunConfig.model_construct(select=SelectConfig(statistics=("overflowing",), bootstrap=0))
    record = run_select_stage(RunContext.of_run(config, store, nb201.SPACE, progress=False))
    scores = store.read("scores").to_pandas().set_index("cluster")
    assert scores["n_scored"].to_dict() == {0: 2, 1: 1}  # NaN left out of cluster 0, both infinities of cluster 1
    # ranks of 1, 2, 3 among the three finite values: cluster 0 holds 1 and 2, cluster 1 holds 3
    assert scores.loc[0, "score"] == pytest.approx(np.median([1 / 3, 2 / 3]))
    assert scores.loc[1, "score"] == pytest.approx(1.0)
    assert record["cluster"] == 1 and record["scored_archs"] == 6
