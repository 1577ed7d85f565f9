"""The fault table: inject each fault several times and count what it cost.

    python benchmarks/fault_table.py --injections 3

Every fault is real (``tests/fault_injection.py``); nothing raises an exception in its place:

- **statistics actor killed**: SIGKILL of one statistics actor of this process's own Ray in the
  middle of a `run_statistics` (Ray restarts it and retries its shard);
- **driver killed in the statistics**: `cbred run` in its own process group, SIGKILLed (the
  group) once some of its statistics shards are written, then run again with the same
  arguments; it starts from a store whose graphs and clusters are done (a copy of the
  reference's, as a run killed right after its clusters leaves it);
- **driver killed in the graphs**: the same, from an empty store, killed once some of its
  graphs shards are written;
- **driver killed in a successive-halving run**: the same, from an empty store, for a config whose
  clusters are scored by successive halving (``HALVING_CONFIG``), killed once some of its
  statistics shards are written (in its first or its last round); the run again replays the
  rounds and computes only what was not finished;
- **truncated statistics / graphs shard**: a finished store one of whose shard files is cut
  in half on disk, run again (`run_reduction`, the same config);
- **out of memory on a large batch**: `naswot_v2` needs 256 MiB of working memory per image in
  every statistics actor, with only 768 MiB of address space to spare around that allocation
  (`RLIMIT_AS`): torch's CPU allocator fails on 16, 8 and 4 images, and the engine retries on 2.

Each injection is compared with an uninterrupted run of the same config and seed: rows lost
and duplicated (by ``arch_index``), whether ``stats/`` and ``selection/`` are equal, and how many
shards that had been finished were computed again (a rewritten shard file has a new inode).
Where an actor is involved, the shards each actor started are logged (``log_shard_starts``), so
that work redone for a shard that was in flight when the fault hit is counted too.

Writes ``benchmarks/results/fault_table.json`` with the command, the machine and the date (store paths
written as STORE), and ``benchmarks/results/fault_table.md``: this table and, below it, the faults of a
cluster that ``cluster_faults.py`` measures (lost nodes, signals, a full disk, damaged files, readers).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
sys.path.insert(0, str(TESTS))

import fault_injection as fi  # noqa: E402
from fault_report import write_table  # noqa: E402
from provenance import provenance  # noqa: E402

SEED = 3
RUN_CONFIG = {
    "name": "fault_table", "seed": SEED,
    "graphs": {"shard_size": 2000},
    "stats": {"names": ["naswot_v2", "logsynflow", "params", "macs"], "data": {"batch_size": 8}, "shard_size": 1},
    "resources": {"torch_threads": 1},
    "cluster": {"k": 6, "n_init": 2},
    "select": {"statistics": ["naswot_v2", "logsynflow"], "min_cluster_size": 2, "bootstrap": 50,
               "quick": {"enabled": True, "sample_per_cluster": 4}},
}
"""`cbred run` faults: the whole NB201 space in 8 graphs shards; 6 clusters scored from 4 sampled
members each, one distinct cell per statistics shard."""
HALVING_CONFIG = {**RUN_CONFIG, "name": "fault_table_halving",
                  "select": {**{k: v for k, v in RUN_CONFIG["select"].items() if k != "quick"},
                             "halving": {"enabled": True, "budget": 0.004}}}
"""The same, its clusters scored by successive halving within 0.4 % of the space (62 architectures,
2 rounds), one distinct cell per statistics shard."""
LIST_STATS = {"names": ("naswot_v2", "logsynflow"), "data": {"batch_size": 16}, "shard_size": 1}
LIST_RESOURCES = {"num_actors": 2}
"""`run_statistics` faults (actor killed, out of memory): 30 distinct cells, one per shard, 2 actors."""
LIST_CELLS = 30
TABLES = ("graphs", "clusters", "stats", "scores", "selection")


def _worker_setup(oom: bool):
    tests = str(TESTS)

    def setup() -> None:  # runs in every Ray worker of this process's Ray
        if tests not in sys.path:
            sys.path.insert(0, tests)
        import fault_injection

        fault_injection.log_shard_starts()
        if oom:
            fault_injection.install_memory_hungry_naswot()

    return setup


def _start_ray(oom: bool) -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False,
             runtime_env={"worker_process_setup_hook": _worker_setup(oom)})


def _list_archs() -> list[str]:
    from cbred_ray.spaces.cell import nb201
    from cbred_ray.spaces.cell.canonical import canonical_cells

    cells = nb201.cell_range(6000, 6400)
    _, first = np.unique(canonical_cells(cells), axis=0, return_index=True)
    return [nb201.format_cell(cells[i]) for i in np.sort(first)[:LIST_CELLS]]


def _table(store: Path, stage: str) -> pd.DataFrame:
    frame = pd.read_parquet(store / stage)
    key = "arch_index" if "arch_index" in frame else "cluster"
    return frame.sort_values(key).reset_index(drop=True)


def _equal(store: Path, reference: Path, stage: str) -> bool:
    try:
        pd.testing.assert_frame_equal(_table(store, stage), _table(reference, stage))
        return True
    except (AssertionError, OSError, ValueError):
        return False


def _rows(store: Path, reference: Path) -> dict:
    """Rows of ``stats/`` lost and duplicated against the reference, by ``arch_index``."""
    try:
        got = pd.read_parquet(store / "stats", columns=["arch_index"])["arch_index"].to_numpy()
    except (OSError, ValueError):
        got = np.array([], dtype=np.int64)
    want = pd.read_parquet(reference / "stats", columns=["arch_index"])["arch_index"].to_numpy()
    return {"rows": int(len(got)), "rows_lost": int(len(np.setdiff1d(want, got))),
            "rows_duplicated": int(len(got) - len(np.unique(got))),
            "rows_foreign": int(len(np.setdiff1d(got, want)))}


def _recomputed(before: dict, after: dict) -> int:
    """Shard files finished before the fault and written again after it (new inode or mtime)."""
    return sum(1 for name, seen in before.items() if after.get(name) != seen)


def _manifest(store: Path) -> dict:
    return json.loads((store / "manifest.json").read_text())


def _cbred_run(config: Path, store: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cbred_ray.cli", "run", str(config), "--out", str(store), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=log.open("ab"), start_new_session=True)


def _kill_when(run: subprocess.Popen, ready, store: Path, timeout: float = 900) -> bool:
    """SIGKILL the run's process group once ``ready()``; wait until the store stops changing
    (Ray's workers outlive the group by a moment). False when the run ended first."""
    deadline = time.monotonic() + timeout
    while not ready() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    alive = run.poll() is None
    fi.kill_group(run.pid)
    run.wait()
    fi.settle(store)
    return alive


# -- faults -------------------------------------------------------------------------------

def actor_killed(work: Path, archs: list[str], reference: Path, injections: int) -> dict:
    from cbred_ray.config import ResourcesConfig, StatsConfig
    from cbred_ray.pipeline.run import run_statistics

    cfg = StatsConfig(**LIST_STATS)
    records = []
    for i in range(injections):
        store = work / f"actor_killed_{i}"
        kill_at = [2, LIST_CELLS // 3, 2 * LIST_CELLS // 3][i % 3]
        seen: dict = {}

        def kill_one_actor() -> None:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                finished = fi.shard_files(store, "stats")
                pids = fi.descendants_named(b"ray::StatsWorker")
                if len(finished) >= kill_at and pids:
                    seen.update(finished=finished, pid=pids[0])
                    os.kill(pids[0], signal.SIGKILL)
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_one_actor)
        killer.start()
        completed = True
        try:
            manifest = run_statistics(archs, cfg, str(store), seed=SEED, progress=False,
                                      resources=ResourcesConfig(**LIST_RESOURCES))
        except Exception as err:  # counted, not hidden
            completed, manifest = False, {"error": repr(err)}
        killer.join()
        starts = Counter(fi.shard_starts(store))
        records.append({
            "killed_after_shards": len(seen.get("finished", {})), "injected": "pid" in seen,
            "completed": completed and manifest.get("status") == "done", **_rows(store, reference),
            "stats_equal": _equal(store, reference, "stats"),
            "finished_shards_recomputed": _recomputed(seen.get("finished", {}), fi.shard_files(store, "stats")),
            "in_flight_shards_redone": sum(n - 1 for n in starts.values()),
        })
    return _summary("statistics actor killed (SIGKILL) mid-run", "run_statistics, 30 shards, 2 actors", records)


def out_of_memory(work: Path, archs: list[str], reference: Path, injections: int) -> dict:
    from cbred_ray.config import ResourcesConfig, StatsConfig
    from cbred_ray.pipeline.run import run_statistics

    cfg = StatsConfig(**LIST_STATS)
    records = []
    for i in range(injections):
        store = work / f"out_of_memory_{i}"
        completed = True
        try:
            manifest = run_statistics(archs, cfg, str(store), seed=SEED + i, progress=False,
                                      resources=ResourcesConfig(**LIST_RESOURCES))
        except Exception as err:
            completed, manifest = False, {"error": repr(err)}
        stats = pd.read_parquet(store / "stats") if completed else pd.DataFrame({"error": []})
        # "naswot_v2: computed on 2 of 16 images after CPU out of memory", or a failure on those 2 images
        retried = stats["error"].fillna("").str.contains(r"naswot_v2: [^;]*2 of 16 images after CPU out of memory")
        starts = Counter(fi.shard_starts(store))
        records.append({
            "injected": int(retried.sum()) > 0, "cells_out_of_memory": int(retried.sum()),
            "cells_out_of_memory_in_manifest": manifest.get("stages", {}).get("stats", {}).get(
                "cells_out_of_memory"),
            "naswot_v2_null": int(stats["naswot_v2"].isna().sum()) if completed else None,
            "naswot_v2_null_reasons": sorted(set(stats.loc[stats["naswot_v2"].isna(), "error"].fillna(""))) if completed
            else None,
            "naswot_v2_null_in_reference": int(pd.read_parquet(reference / "stats")["naswot_v2"].isna().sum()),
            "completed": completed and manifest.get("status") == "done", **_rows(store, reference),
            "finished_shards_recomputed": 0, "in_flight_shards_redone": sum(n - 1 for n in starts.values()),
        })
    return _summary("out of memory on a large batch (every naswot_v2 call)",
                    "run_statistics, 30 cells, batch 16, RLIMIT_AS around a 256 MiB-per-image allocation "
                    "(seed 3 + injection)", records)


def driver_killed(work: Path, config: Path, reference: Path, base: Path | None, stage: str, injections: int,
                  mode: str = "") -> dict:
    total = _manifest(reference)["stages"][stage]["shards_total"]
    points = [2, total // 2, total - 3] if stage == "stats" else [2, 4, 6]
    records = []
    for i in range(injections):
        name = f"driver_killed_{stage}{mode.replace(' ', '_')}_{i}"
        store, log = work / name, work / f"{name}.log"
        if base is not None:
            shutil.copytree(base, store)
        kill_at = points[i % 3]
        run = _cbred_run(config, store, log)
        injected = _kill_when(run, lambda: len(fi.shard_files(store, stage)) >= kill_at, store)
        finished = fi.shard_files(store, stage)
        killed_status = _manifest(store).get("status")
        resumed = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "run", str(config), "--out", str(store),
                                  "--quiet"], capture_output=True, text=True, timeout=1800)
        completed = resumed.returncode == 0 and _manifest(store).get("status") == "done"
        record = _manifest(store)["stages"].get(stage, {}) if completed else {}
        records.append({
            "killed_after_shards": len(finished), "of_shards": total,
            "injected": injected and 0 < len(finished) < total and killed_status == "running",
            "completed": completed, **_rows(store, reference),
            "stats_equal": _equal(store, reference, "stats"), "selection_equal": _equal(store, reference, "selection"),
            "all_stages_equal": all(_equal(store, reference, t) for t in TABLES),
            "finished_shards_recomputed": _recomputed(finished, fi.shard_files(store, stage)),
            "shards_reused_in_manifest": record.get("shards_reused"),
            "shard_status_in_manifest": record.get("shards", {}).get("status"),
        })
    how = ("cbred run CONFIG --out STORE, SIGKILL to its process group, then the same command again"
           + ("; the store starts with graphs and clusters done" if base is not None else "; from an empty store"))
    return _summary(f"driver (cbred run) killed (SIGKILL) in the {stage} stage{mode}", how, records)


def truncated_shard(work: Path, config_dict: dict, reference: Path, stage: str, injections: int) -> dict:
    from cbred_ray.config import config_from_dict
    from cbred_ray.pipeline.run import run_reduction

    total = _manifest(reference)["stages"][stage]["shards_total"]
    records = []
    for i in range(injections):
        store = work / f"truncated_{stage}_{i}"
        shutil.copytree(reference, store)
        shard = [0, total // 2, total - 1][i % 3]
        before = fi.shard_files(store, stage)
        fi.truncate(store / stage / f"shard-{shard:05d}.parquet")
        before.pop(f"shard-{shard:05d}.parquet")
        completed = True
        try:
            manifest = run_reduction(config_from_dict(config_dict), str(store), progress=False)
        except Exception as err:
            completed, manifest = False, {"error": repr(err)}
        record = manifest.get("stages", {}).get(stage, {})
        records.append({
            "shard": shard, "injected": True, "completed": completed and manifest.get("status") == "done",
            **_rows(store, reference),
            "stats_equal": _equal(store, reference, "stats"), "selection_equal": _equal(store, reference, "selection"),
            "all_stages_equal": all(_equal(store, reference, t) for t in TABLES),
            # the broken shard is computed again; any other finished shard rewritten would count too
            "finished_shards_recomputed": 1 + _recomputed(before, fi.shard_files(store, stage)),
            "shards_broken_redone_in_manifest": record.get("shards", {}).get("redone_broken"),
        })
    return _summary(f"truncated {stage} shard file in a finished store",
                    "half of one shard file cut off on disk, then run_reduction(CONFIG, STORE) again", records)


def _summary(fault: str, how: str, records: list[dict]) -> dict:
    return {
        "fault": fault, "how": how, "injected": sum(bool(r["injected"]) for r in records),
        "runs_completed": sum(bool(r["completed"]) for r in records),
        "rows_lost": sum(r["rows_lost"] for r in records), "rows_duplicated": sum(r["rows_duplicated"] for r in records),
        "finished_shards_recomputed": sum(r["finished_shards_recomputed"] for r in records),
        "max_shards_recomputed_per_fault": max(r["finished_shards_recomputed"] + r.get("in_flight_shards_redone", 0)
                                               for r in records),
        "in_flight_shards_redone": (sum(r["in_flight_shards_redone"] for r in records)
                                    if all("in_flight_shards_redone" in r for r in records) else None),
        "equal_to_uninterrupted": all(r.get("all_stages_equal", r.get("stats_equal", True)) for r in records),
        "injections": records,
    }


# -- the table ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--injections", type=int, default=3, help="injections of each fault")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder for the two result files")
    parser.add_argument("--table-only", action="store_true", help="measure nothing: write fault_table.md again from "
                        "the results files")
    args = parser.parse_args(argv)
    if args.table_only:
        print(write_table(Path(args.out)))
        return 0

    from cbred_ray.config import ResourcesConfig, StatsConfig, config_from_dict
    from cbred_ray.pipeline.run import run_reduction, run_statistics

    started, load_start = time.perf_counter(), os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="cbred-faults-"))
    try:
        config = work / "config.yaml"
        config.write_text(yaml.safe_dump(RUN_CONFIG))
        archs = _list_archs()
        _start_ray(oom=False)
        reference_run = work / "reference_run"
        run_reduction(config_from_dict(RUN_CONFIG), str(reference_run), progress=False)
        reference_list = work / "reference_list"
        run_statistics(archs, StatsConfig(**LIST_STATS), str(reference_list), seed=SEED, progress=False,
                       resources=ResourcesConfig(**LIST_RESOURCES))
        faults = [actor_killed(work, archs, reference_list, args.injections)]
        faults.append(truncated_shard(work, RUN_CONFIG, reference_run, "stats", args.injections))
        faults.append(truncated_shard(work, RUN_CONFIG, reference_run, "graphs", args.injections))
        _start_ray(oom=True)
        faults.append(out_of_memory(work, archs, reference_list, args.injections))
        import ray

        ray.shutdown()
        base = work / "graphs_and_clusters_done"  # a run killed right after its clusters, as it leaves its store
        shutil.copytree(reference_run, base, ignore=shutil.ignore_patterns("stats", "scores", "selection"))
        manifest = _manifest(base)
        manifest["status"] = "running"
        for stage in ("stats", "selection"):
            manifest["stages"].pop(stage, None)
        manifest.pop("rows", None)
        (base / "manifest.json").write_text(json.dumps(manifest))
        faults.append(driver_killed(work, config, reference_run, base, "stats", args.injections))
        faults.append(driver_killed(work, config, reference_run, None, "graphs", args.injections))
        halving = work / "halving.yaml"
        halving.write_text(yaml.safe_dump(HALVING_CONFIG))
        reference_halving = work / "reference_halving"
        subprocess.run([sys.executable, "-m", "cbred_ray.cli", "run", str(halving), "--out", str(reference_halving),
                        "--quiet"], check=True, capture_output=True, timeout=1800)
        faults.append(driver_killed(work, halving, reference_halving, None, "stats", args.injections,
                                    " of a successive-halving run"))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    target_met = all(f["injected"] == args.injections and f["runs_completed"] == args.injections
                     and f["rows_lost"] == 0 and f["rows_duplicated"] == 0
                     and f["max_shards_recomputed_per_fault"] <= 1 for f in faults)
    result = {
        "command": f"python benchmarks/fault_table.py --injections {args.injections}",
        **provenance(load_average_1_5_15min_at_start=[round(x, 2) for x in load_start],
                     load_average_1_5_15min_at_end=[round(x, 2) for x in os.getloadavg()]),
        "versions": {name: metadata.version(name) for name in ("ray", "torch", "pyarrow")},
        "setup": {"run_config": RUN_CONFIG, "halving_config": HALVING_CONFIG,
                  "list_statistics": {**LIST_STATS, "resources": LIST_RESOURCES, "cells": LIST_CELLS, "seed": SEED},
                  "store": "STORE", "config": "CONFIG"},
        "target": "every injection completes, 0 rows lost, 0 rows duplicated, at most one shard recomputed per fault",
        "target_met": target_met, "wall_seconds": round(time.perf_counter() - started, 1), "faults": faults,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fault_table.json").write_text(json.dumps(result, indent=2) + "\n")
    print(write_table(out))
    return 0 if target_met else 1


if __name__ == "__main__":
    sys.exit(main())
