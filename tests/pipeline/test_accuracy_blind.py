"""Accuracy never feeds the reduction.

The accuracies a run could reach are the benchmark tables built into the package. Here a run
uses a copy of the package whose built-in tables have their accuracies shuffled: a reduction
that read them (to choose a cluster, a K, a sample) would choose differently, but it chooses
exactly what the untouched package chooses. In that run's process neither ``evaluate`` nor
``report`` is ever imported, and no accuracy column reaches the store.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

import cbred_ray
from cbred_ray.config import config_from_dict
from cbred_ray.pipeline.run import run_reduction
from cbred_ray.store import Store

CONFIG = {
    "seed": 5, "stats": {"names": ["naswot_v2", "logsynflow"], "data": {"batch_size": 8}, "shard_size": 8},
    "cluster": {"k": 5, "n_init": 2}, "select": {"quick": {"enabled": True, "sample_per_cluster": 3}},
}
RUN_AND_LIST_MODULES = """
import json, sys
from cbred_ray.cli import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(m for m in sys.modules if m.startswith("cbred_ray"))}))
"""


def _poisoned_package(folder: Path) -> Path:
    """A copy of the package whose built-in benchmark tables hold shuffled accuracies."""
    copy = folder / "cbred_ray"
    shutil.copytree(Path(cbred_ray.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    rng = np.random.default_rng(0)
    tables = sorted((copy / "evaluate" / "tables").glob("*.parquet"))
    assert tables, "no built-in benchmark table to poison"
    for path in tables:
        frame = pd.read_parquet(path)
        for column in [c for c in frame.columns if c.endswith("_acc")]:
            frame[column] = rng.permutation(frame[column].to_numpy())
        frame.to_parquet(path)
    return folder


def test_a_run_chooses_the_same_with_the_built_in_accuracies_shuffled(ray_local, tmp_path):
    run_reduction(config_from_dict(CONFIG), str(tmp_path / "plain"), progress=False)

    package = _poisoned_package(tmp_path / "poisoned")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    env = {**os.environ, "PYTHONPATH": str(package)}
    result = subprocess.run([sys.executable, "-c", RUN_AND_LIST_MODULES, "run", str(config), "--out",
                             str(tmp_path / "poisoned_store"), "--quiet"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == 0
    assert "cbred_ray.cli" in report["modules"] and "cbred_ray.pipeline.run" in report["modules"]
    assert not [m for m in report["modules"] if m.startswith(("cbred_ray.evaluate", "cbred_ray.report"))]

    plain = Store(tmp_path / "plain").read("selection").to_pandas()["arch_str"]
    poisoned = Store(tmp_path / "poisoned_store").read("selection").to_pandas()["arch_str"]
    assert sorted(plain) == sorted(poisoned) and len(plain) > 0
    for path in (tmp_path / "poisoned_store").rglob("*.parquet"):
        assert not any(c.endswith("_acc") for c in pd.read_parquet(path).columns), path
    assert "_acc" not in json.dumps(json.loads((tmp_path / "plain" / "manifest.json").read_text())["config"])
