"""The plug-in example (``examples/plugin_space``), as a user meets it: installed as a distribution of its
own, found through the ``cbred_ray.spaces`` entry point by ``cbred spaces``, the conformance checks, a
config and a whole ``cbred run`` whose Ray workers import it too.

The example is installed for this module only, into a temporary folder (``pip install --no-deps --target``),
and every step runs in a subprocess with that folder on ``PYTHONPATH``: the project's environment, and the
registry of this test process, never see it. The module is skipped when the install cannot reach a
package index (it needs one only to build with isolation, where ``setuptools`` is not importable here).
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "plugin_space"
CONFIG = EXAMPLE / "tinynet.yaml"
OFFLINE = ("Failed to establish a new connection", "Temporary failure in name resolution", "Network is unreachable",
           "No matching distribution found", "Could not find a version that satisfies", "ProxyError",
           "Connection refused", "timed out")
"""What pip says when it cannot reach a package index (to fetch setuptools for an isolated build)."""
SMALL = ["space.sample=16", "cluster.k=3", "cluster.n_init=2", "select.min_cluster_size=2", "select.bootstrap=20",
         "select.halving.budget=0.5", "stats.data.batch_size=16", "graphs.shard_size=8", "stats.shard_size=4",
         "resources.num_actors=1"]
"""Overrides that make the example config a run of well under a minute: 16 sampled architectures in 3
clusters, statistics for at most 8 of them on 16 images, one statistics actor."""


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A folder holding the installed example (its package and its ``dist-info``, entry point included)."""
    root = tmp_path_factory.mktemp("plugin")
    source, target = root / "source", root / "site"
    # a copy, so that the build's own folders (build/, *.egg-info) are not written into the checkout
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    isolated = importlib.util.find_spec("setuptools") is None
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
               "--target", str(target), str(source)]
    if not isolated:
        command.insert(4, "--no-build-isolation")
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        said = done.stdout + done.stderr
        if isolated and any(sign in said for sign in OFFLINE):
            pytest.skip(f"cannot install the plug-in example: no package index to build it with ({said.strip()[-200:]})")
        pytest.fail(f"pip could not install {EXAMPLE}:\n{said}")
    return target


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # the run starts its own Ray
    env["PYTHONPATH"] = os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def cbred(site: Path, *args, timeout: int = 300) -> subprocess.CompletedProcess:
    """``cbred ARGS`` as a user with the example installed runs it."""
    return subprocess.run([sys.executable, "-m", "cbred_ray.cli", *map(str, args)], capture_output=True, text=True,
                          env=_env(site), cwd=REPO, timeout=timeout)


def python(site: Path, code: str, timeout: int = 300) -> dict:
    """Run ``code`` with the example installed; it prints one JSON document, returned parsed."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(site), cwd=REPO,
                          timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_cbred_spaces_lists_the_plugin_with_its_parameters_and_size(site):
    done = cbred(site, "spaces", "--compact")
    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    tinynet = rows["tinynet"]
    assert tinynet["class"] == "tinynet_space:TinyNetSpace"
    assert {key: p["default"] for key, p in tinynet["parameters"].items()} == {"stages": 4, "base_channels": 16}
    assert all(p["description"] for p in tinynet["parameters"].values())
    assert tinynet["size"] == 4**4 * 2


def test_the_plugin_passes_the_conformance_checks(site):
    """Every structural check (the statistics themselves run in the end-to-end test below)."""
    found = python(site, """if True:
        import json
        from cbred_ray.spaces.check import check_space
        from cbred_ray.spaces.registry import build_space
        space = build_space("tinynet")
        results = check_space(space, sample=4, statistics=False)
        small = build_space("tinynet", {"stages": 2, "base_channels": 8})
        ids = small.format_ids(range(small.size))
        print(json.dumps({"passed": [r.name for r in results if r.passed], "small_ids": ids,
                          "round_trip": small.parse_ids(ids).tolist()}))
    """)
    assert found["passed"] == ["identifiers", "sampling", "neighbours", "canonical", "features", "costs", "graph", "traced_graph",
                               "parameters"]
    assert len(found["small_ids"]) == 4**2 * 2 and found["round_trip"] == list(range(4**2 * 2))
    assert found["small_ids"][:3] == ["b3-b3/0.5", "b3-b3/1.0", "b3-bn/0.5"] and found["small_ids"][-1] == "id-id/1.0"


def test_a_config_names_the_plugin_and_a_bad_parameter_is_one_line(site, tmp_path):
    loaded = python(site, f"""if True:
        import json
        from cbred_ray import BadInput
        from cbred_ray.config import load_config
        config = load_config({str(CONFIG)!r}, ("space.stages=3",))
        try:
            load_config({str(CONFIG)!r}, ("space.depth=3",))
        except BadInput as err:
            unknown = str(err)
        print(json.dumps({{"space": config.space.model_dump(mode="json"), "size": config.space.space().size,
                          "unknown": unknown}}))
    """)
    assert loaded["space"] == {"name": "tinynet", "stages": 3, "base_channels": 16, "sample": None}
    assert loaded["size"] == 4**3 * 2
    assert "tinynet" in loaded["unknown"] and "'depth'" in loaded["unknown"] and "stages, base_channels" in loaded["unknown"]
    store = tmp_path / "never"
    refused = cbred(site, "run", CONFIG, "--out", store, "--set", "space.stages=9")
    assert refused.returncode == 2, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "tinynet" in lines[0] and "'stages'" in lines[0] and "9" in lines[0], lines
    assert not store.exists()


def test_cbred_run_reduces_the_plugin_space_on_ray(site, tmp_path):
    """The example config, made small: Ray's workers import the plug-in from the driver's ``PYTHONPATH``."""
    store = tmp_path / "tinynet"
    done = cbred(site, "run", CONFIG, "--out", store, "--quiet", *(x for o in SMALL for x in ("--set", o)))
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["space"]["name"] == "tinynet" and summary["selected"] > 0
    opened = python(site, f"""if True:
        import json
        import cbred_ray
        result = cbred_ray.open_store({str(store)!r})
        measured = result.stats.join(result.clusters["arch_params"])
        print(json.dumps({{"ids": result.ids, "indices": result.selection["arch_index"].tolist(),
                          "parsed": result.space.parse_ids(result.ids).tolist(), "measured": len(measured),
                          "own_params": bool((measured["params"] == measured["arch_params"]).all()),
                          "space": type(result.space).__name__}}))
    """)
    assert opened["space"] == "TinyNetSpace" and len(opened["ids"]) == summary["selected"]
    assert opened["parsed"] == opened["indices"]
    assert 0 < opened["measured"] <= 8
    assert opened["own_params"]  # each measured architecture's statistics are of its own network, not a twin's
    reported = cbred(site, "report", store, "--seeds", "2", "--out", tmp_path / "report", "--quiet")
    assert reported.returncode == 0, reported.stderr[-3000:]  # no ground truth: what each way of choosing keeps
    text = (tmp_path / "report" / "report.md").read_text()
    assert "without ground truth" in text and "C-BRED (C)" in text and "Params-Quantiled" in text
