"""`ray job submit` against a real Ray head, as on a cluster.

A head is started with `ray start --head` (dashboard on, free ports, its own temp dir under
/tmp, 2 CPUs, token authentication with a fresh token, this virtualenv: no package index
is needed); `jobs/reduce.py` is submitted with the `ray job submit` CLI, `--working-dir .`
and `jobs/runtime_env.yaml` less its pip step, on the tiny config; the CLI waits for the job,
which must end SUCCEEDED; the store is checked, and compared with an in-process run of the
same config. The head is stopped by signalling only the processes it started (`ray stop`
would stop every Ray on the machine), and nothing is set in this process's environment, so
the in-process Ray of the other tests neither joins it nor is disturbed.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml

from cbred_ray.config import load_config
from cbred_ray.spaces.cell import nb201

REPO = Path(__file__).resolve().parents[2]
TINY = "configs/nb201_tiny.yaml"


def _load(path: Path):
    sys.path.insert(0, str(path.parent))  # as `python benchmarks/...` has it: beside its helpers
    spec = importlib.util.spec_from_file_location("benchmarks_ray_job_submit", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


rjs = _load(REPO / "benchmarks" / "ray_job_submit.py")
needs_ray_cli = pytest.mark.skipif(rjs.ray_cli() is None, reason="the `ray` command is not installed")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Start a head, submit the tiny reduction, wait for it, stop the head (always)."""
    if rjs.ray_cli() is None:
        pytest.skip("the `ray` command is not installed")
    store = tmp_path_factory.mktemp("job") / "store"  # absolute: the job runs in a copy of the working dir
    environ = dict(os.environ)
    head = rjs.LocalHead(num_cpus=2)
    try:
        head.start()
        submitted = rjs.submit_reduce(head, TINY, store, timeout=600)
    finally:
        killed = head.stop()
        left = head.processes()
        head.remove_temp_dir()
    return SimpleNamespace(store=store, submitted=submitted, killed=killed, left=left, head=head,
                           environ_before=environ, environ_after=dict(os.environ))


@needs_ray_cli
def test_the_submitted_job_succeeds(job):
    submitted = job.submitted
    assert submitted["returncode"] == 0, submitted["output"][-4000:]
    assert submitted["status"] == "SUCCEEDED", submitted["output"][-4000:]
    assert {"--address", "--working-dir", "--runtime-env-json"} <= set(submitted["args"])
    # the working directory was packed, uploaded to the head and used as the job's runtime_env
    assert submitted["info"]["runtime_env"]["working_dir"].startswith("gcs://_ray_pkg_")
    assert submitted["info"]["entrypoint"].startswith("python jobs/reduce.py --config " + TINY)


@needs_ray_cli
def test_the_job_wrote_a_finished_store(job):
    described = rjs.describe_store(job.store)
    config = load_config(REPO / TINY)
    assert described["status"] == "done"
    assert described["config_hash"] == config.hash()
    rows = described["rows_on_disk"]
    assert {stage: rows[stage] for stage in described["rows_manifest"]} == described["rows_manifest"]
    assert rows["graphs"] == rows["clusters"] == nb201.SPACE_SIZE
    assert rows["stats"] == config.cluster.k * config.select.quick.sample_per_cluster
    assert rows["scores"] == config.cluster.k
    assert rows["selection"] > 0
    selection = pq.read_table(job.store / "selection").to_pandas()
    clusters = pq.read_table(job.store / "clusters").to_pandas()
    chosen = clusters.loc[clusters["cluster"] == described["selected_cluster"], "arch_index"]
    assert sorted(selection["arch_index"]) == sorted(chosen)
    assert selection["arch_str"].tolist() == nb201.SPACE.format_ids(selection["arch_index"].to_numpy())


@needs_ray_cli
def test_the_head_is_stopped_and_nothing_leaks(job):
    assert job.left == [], f"processes of the head still alive: {job.left}"
    assert not Path(job.head.temp_dir).exists()
    for name in ("RAY_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
        assert job.environ_after.get(name) == job.environ_before.get(name)
    assert job.head.token not in json.dumps(job.environ_after)


@needs_ray_cli
def test_the_job_selects_what_an_in_process_run_selects(job, ray_local, tmp_path):
    from cbred_ray.pipeline.run import run_reduction

    local = tmp_path / "local"
    run_reduction(load_config(REPO / TINY), str(local), progress=False)
    for stage, key in (("clusters", "arch_index"), ("stats", "arch_index"), ("selection", "arch_index")):
        ours = pq.read_table(job.store / stage).to_pandas().sort_values(key).reset_index(drop=True)
        theirs = pq.read_table(local / stage).to_pandas().sort_values(key).reset_index(drop=True)
        assert list(ours.columns) == list(theirs.columns), stage
        for column in ours.columns:
            if ours[column].dtype.kind == "f":
                np.testing.assert_allclose(ours[column], theirs[column], rtol=1e-6, equal_nan=True,
                                           err_msg=f"{stage}.{column}")
            else:
                assert ours[column].tolist() == theirs[column].tolist(), f"{stage}.{column}"


def test_a_relative_store_is_refused_inside_a_job(tmp_path):
    env = {**os.environ, "RAY_JOB_CONFIG_JSON_ENV_VAR": "{}"}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run([sys.executable, str(REPO / "jobs" / "reduce.py"), "--config", str(REPO / TINY),
                           "--out", "stores/relative"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "relative" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_runtime_env_installs_the_projects_dependencies():
    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement
    from ray.runtime_env import RuntimeEnv

    data = yaml.safe_load((REPO / "jobs" / "runtime_env.yaml").read_text())
    RuntimeEnv(**data)  # Ray's own validation of the fields
    assert data["working_dir"] == "."
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in declared
              if Requirement(r).name.lower() != "ray"}
    installed = {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in data["pip"]}
    assert installed == wanted
    assert "pip" not in rjs.offline_runtime_env()
    assert rjs.offline_runtime_env()["working_dir"] == "."
