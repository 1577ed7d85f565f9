"""Measure one `cbred run`: wall time, peak memory, and the evaluation of its selection.

    python benchmarks/run_reduction.py --config configs/nb201_cifar100.yaml \
        --benchmark ../shared/nb201/nb201_test_accuracy.parquet --out benchmarks/results/nb201_quick.json

Runs the CLI in a subprocess on a fresh store, samples the resident memory of the
whole process tree (driver, Ray services and workers) and of the driver alone
every 0.2 s from /proc, then runs `cbred evaluate` (when ``--benchmark`` gives a table: a space
nobody has trained has none) and writes everything as JSON with the command, the machine and the date.

With ``--exhaustive-stats`` (statistics of every architecture, e.g.
``benchmarks/results/nb201_stats.parquet``) a run that sampled its clusters (quick mode or
successive halving) is set beside exhaustive scoring of the same clusters: the cluster it
chooses, its evaluation, and the largest difference between the statistics the run computed
and those of the file for the same architectures (0 when seed and settings match).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import REPO, provenance

from cbred_ray.config import HalvingConfig, QuickConfig, RunConfig
from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.evaluate.metrics import evaluate_subset
from cbred_ray.pipeline.select_stage import clusters_to_select_from
from cbred_ray.report.report import portable
from cbred_ray.seeds import RunSeeds
from cbred_ray.select.constraints import stored_costs
from cbred_ray.select.reduction import reduce_space
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.select.settings import Selection
from cbred_ray.spaces.cell import nb201
from cbred_ray.store import Store


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kib(root: int) -> int:
    tree, total, stack = _children(), 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kib(pid)
        stack.extend(tree.get(pid, []))
    return total


def _portable_argument(argument: str, args: argparse.Namespace) -> str:
    """An argument as the recorded command writes it: the store as STORE, a selection file outside the
    repository as SELECTION.parquet (paths of this machine mean nothing elsewhere)."""
    if argument == args.store:
        return "STORE"
    if argument == args.selection_out and not Path(argument).resolve().is_relative_to(REPO):
        return "SELECTION.parquet"
    return argument


def measured_run(command: list[str]) -> tuple[subprocess.Popen, float, int, int, str]:
    """Run ``command`` to its end, sampling every 0.2 s the resident memory of its whole process tree and
    of its first process: (the finished process, wall seconds, peak tree KiB, peak KiB, its stdout)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak_tree = peak_driver = 0
    while proc.poll() is None:
        peak_tree = max(peak_tree, _tree_rss_kib(proc.pid))
        peak_driver = max(peak_driver, _rss_kib(proc.pid))
        time.sleep(0.2)
    return proc, time.perf_counter() - started, peak_tree, peak_driver, proc.stdout.read()


def exhaustive(store: Path, stats_file: str, benchmark: str) -> dict:
    """Exhaustive scoring of the store's clusters from ``stats_file``, beside the run's own choice."""
    manifest = json.loads((store / "manifest.json").read_text())
    config = RunConfig.model_validate(manifest["config"])
    select = config.select.model_copy(update={"quick": QuickConfig(), "halving": HalvingConfig()})
    clusters = clusters_to_select_from(Store(store))
    whole = pd.read_parquet(stats_file).set_index("arch_index")
    reduction = reduce_space(oriented_ranks(whole.loc[clusters.index], select.statistics), clusters["cluster"],
                             Selection.of(select), len(clusters), RunSeeds(config.seed).of("selection"),
                             stored_costs(clusters))
    measured = Store(store).read("stats").to_pandas().set_index("arch_index")[list(select.statistics)]
    difference = np.nanmax(np.abs(measured.to_numpy() - whole.loc[measured.index, measured.columns].to_numpy()))
    chosen = manifest["stages"]["selection"]["cluster"]
    run_selection = Store(store).read("selection", columns=["arch_index"]).column(0).to_numpy()
    arch_strs = nb201.SPACE.format_ids(reduction.selected.to_numpy())
    evaluation = evaluate_subset(arch_strs, load_benchmark(benchmark))
    return {"stats_file": stats_file, "cluster": reduction.cluster, "run_cluster": chosen,
            "agrees": reduction.cluster == chosen,
            "same_selection": bool(np.array_equal(np.sort(run_selection), reduction.selected.to_numpy())),
            "max_abs_difference_of_measured_stats": float(difference),
            "evaluation": evaluation["datasets"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--benchmark", default=None, help="benchmark table to evaluate the selection against "
                        "(default: none, for a space nobody has trained: the run is measured, not evaluated)")
    parser.add_argument("--out", required=True, help="JSON result file")
    parser.add_argument("--store", default=None, help="store directory (default: a temporary one, removed)")
    parser.add_argument("--exhaustive-stats", default=None, help="statistics of every architecture, to set a "
                        "sampled run beside exhaustive scoring of its clusters")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="passed to cbred run (repeatable), e.g. --set seed=1")
    parser.add_argument("--selection-out", default=None, help="also write the selection (the space's identifier "
                        "column, one row per selected architecture) to this Parquet file")
    args = parser.parse_args()

    store = Path(args.store) if args.store else Path(tempfile.mkdtemp()) / "store"
    if store.exists():
        shutil.rmtree(store)
    cbred = [sys.executable, "-m", "cbred_ray.cli"]
    overrides = [part for value in args.set for part in ("--set", value)]
    proc, wall, peak_tree, peak_driver, run_out = measured_run([*cbred, "run", args.config, "--out", str(store),
                                                               *overrides])
    if proc.returncode != 0:
        sys.exit(f"cbred run failed with exit code {proc.returncode}")
    evaluation = subprocess.run([*cbred, "evaluate", str(store), "--benchmark", args.benchmark],
                                check=True, capture_output=True, text=True).stdout if args.benchmark else "null"
    manifest = json.loads((store / "manifest.json").read_text())
    result = {
        "command": " ".join([Path(sys.executable).name, *[_portable_argument(a, args) for a in sys.argv]]),
        "cbred_command": f"cbred run {args.config} --out STORE" + "".join(f" --set {v}" for v in args.set)
                         + (f" && cbred evaluate STORE --benchmark {args.benchmark}" if args.benchmark else ""),
        **provenance(),
        "wall_seconds": round(wall, 1),
        "peak_rss_mib_all_processes": round(peak_tree / 1024, 1),
        "peak_rss_mib_driver": round(peak_driver / 1024, 1),
        "run_output": {key: (value.replace(str(store), "STORE") if isinstance(value, str) else value)
                       for key, value in json.loads(run_out.strip().splitlines()[-1]).items()},
        "stage_seconds": {k: v["seconds"] for k, v in manifest["stages"].items()},
        "measured_architectures": manifest["rows"]["stats"],
        "space": manifest["space"],
        "selection_stage": {k: v for k, v in manifest["stages"]["selection"].items()
                            if k in ("cluster", "clusters", "rows", "score", "interval", "near_ties", "rounds",
                                     "region")},
        "stats_stage": portable({k: manifest["stages"]["stats"][k] for k in
                                 ("archs_requested", "cells_computed", "actors", "device", "batch", "precomputed",
                                  "halving")
                                 if k in manifest["stages"]["stats"]}),
        "evaluation": json.loads(evaluation),
    }
    if args.exhaustive_stats:
        result["exhaustive"] = exhaustive(store, args.exhaustive_stats, args.benchmark)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.selection_out:
        space = RunConfig.model_validate(manifest["config"]).space.space()
        Store(store).read("selection", columns=[space.id_column]).sort_by(space.id_column).to_pandas().to_parquet(
            args.selection_out, index=False)
    print(json.dumps({k: result[k] for k in ("wall_seconds", "peak_rss_mib_all_processes", "measured_architectures")}))
    for dataset, figures in (result["evaluation"] or {"datasets": {}})["datasets"].items():
        print(dataset, json.dumps(figures, indent=1))
    if args.exhaustive_stats:
        print(json.dumps({k: v for k, v in result["exhaustive"].items() if k != "evaluation"}))
    if not args.store:
        shutil.rmtree(store.parent)


if __name__ == "__main__":
    main()
