"""Accuracy never feeds the reduction: shuffling the benchmark's accuracies changes
the evaluation but not the selection, and no accuracy column reaches the store."""
import json

import numpy as np
import pandas as pd

from cbred_ray.config import config_from_dict
from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.evaluate.metrics import evaluate_subset
from cbred_ray.pipeline.run import run_reduction
from cbred_ray.store import Store

CONFIG = {
    "seed": 5, "stats": {"names": ["naswot_v2", "logsynflow"], "data": {"batch_size": 8}, "shard_size": 8},
    "cluster": {"k": 5, "n_init": 2}, "select": {"quick": {"enabled": True, "sample_per_cluster": 3}},
}


def test_shuffled_accuracies_leave_the_selection_unchanged(ray_local, nb201_table, tmp_path):
    table = load_benchmark(nb201_table)
    shuffled = table.copy()
    rng = np.random.default_rng(0)
    for column in [c for c in table.columns if c.endswith("_acc")]:
        shuffled[column] = rng.permutation(table[column].to_numpy())
    shuffled_path = tmp_path / "shuffled.parquet"
    shuffled.to_parquet(shuffled_path)

    selections, reports = [], []
    for name, bench in (("a", table), ("b", load_benchmark(shuffled_path))):
        run_reduction(config_from_dict(CONFIG), str(tmp_path / name), progress=False)
        selected = Store(tmp_path / name).read("selection").to_pandas()["arch_str"]
        selections.append(sorted(selected))
        reports.append(evaluate_subset(list(selected), bench))

    assert selections[0] == selections[1]
    assert reports[0]["datasets"]["cifar100"]["subset_mean"] != reports[1]["datasets"]["cifar100"]["subset_mean"]
    for path in (tmp_path / "a").rglob("*.parquet"):
        assert not any(c.endswith("_acc") for c in pd.read_parquet(path).columns), path
    assert "_acc" not in json.dumps(json.loads((tmp_path / "a" / "manifest.json").read_text())["config"])
