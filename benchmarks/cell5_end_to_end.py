"""The whole 5-node cell space reduced end to end, on a statistics budget, for several seeds.

    python benchmarks/cell5_end_to_end.py --config configs/cell5_full.yaml --seeds 0,1,2 \
        --work WORK --out benchmarks/results/cell5_end_to_end.json

Each seed is one `cbred run` of the config with that seed, in a fresh process on a fresh store under
WORK: enumeration of the 9,765,625 architectures, canonical dedupe, features (Ray Data), distributed
k-means, statistics of the 5-node networks by successive halving within the budget, the selection.
Recorded per seed: wall time, the peak resident memory of the whole process tree (driver, Ray
services, workers; sampled every 0.2 s) and of the driver, the seconds of each stage, the halving
rounds (contenders, members measured, leader) and the cluster chosen. A seed already in the result
file is not run again (a long benchmark resumes) when its recorded config hash is the one this code gives
the seed's config: the hash covers the run scheme (how seeds are derived), so a seed measured under an
earlier scheme, or recorded without a hash, is run again.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import yaml
from provenance import provenance
from run_reduction import measured_run

from cbred_ray.config import config_from_dict


def seed_config_hash(config: dict, seed: int) -> str:
    """The hash a `cbred run` of the config with this seed records in its store (the run scheme included)."""
    return config_from_dict({**config, "seed": seed}).hash()


def finished_runs(previous: dict, config: dict) -> dict[int, dict]:
    """The runs of a previous result file that still stand: same config, and each run's recorded config hash
    the one this code gives its seed."""
    if previous.get("config") != config:
        return {}
    return {r["seed"]: r for r in previous.get("runs", []) if r.get("config_hash") == seed_config_hash(config, r["seed"])}


def run_seed(config: dict, seed: int, work: Path) -> dict:
    path, store = work / f"seed{seed}.yaml", work / f"seed{seed}"
    path.write_text(yaml.safe_dump({**config, "seed": seed}))
    if store.exists():
        shutil.rmtree(store)
    proc, wall, peak_tree, peak_driver, _ = measured_run([sys.executable, "-m", "cbred_ray.cli", "run", str(path),
                                                          "--out", str(store)])
    if proc.returncode != 0:
        sys.exit(f"cbred run failed for seed {seed} with exit code {proc.returncode}")
    manifest = json.loads((store / "manifest.json").read_text())
    halving = manifest["stages"]["stats"]["halving"]
    return {
        "seed": seed, "config_hash": manifest["config_hash"], "wall_seconds": round(wall, 1),
        "peak_rss_gib_all_processes": round(peak_tree / 2**20, 2), "peak_rss_gib_driver": round(peak_driver / 2**20, 2),
        "stage_seconds": {k: v["seconds"] for k, v in manifest["stages"].items()},
        "space": manifest["space"], "rows": manifest["rows"],
        "measured_architectures": halving["measured"], "budget": halving["budget"],
        "rounds": [{"contenders": len(r["contenders"]), "measured_per_contender": r["measured_per_cluster"],
                    "leader": r["leader"], "separated": r["separated"]} for r in halving["rounds"]],
        "cells_computed": manifest["stages"]["stats"]["cells_computed"],
        "cluster": manifest["stages"]["selection"]["cluster"], "selected": manifest["rows"]["selection"],
        "kmeans": {k: manifest["stages"]["clusters"][k] for k in ("k", "inertia", "iterations", "converged")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/cell5_full.yaml")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--work", required=True, help="folder for the configs and stores of the seeds")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(Path(args.config).read_text())
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.is_file() else {}
    runs = finished_runs(previous, config)
    for seed in (int(s) for s in args.seeds.split(",")):
        if seed in runs:
            continue
        runs[seed] = run_seed(config, seed, work)
        print(json.dumps(runs[seed]), file=sys.stderr, flush=True)
        out.write_text(json.dumps({
            "command": f"python benchmarks/cell5_end_to_end.py --config {args.config} --seeds {args.seeds} "
                       f"--work WORK --out {args.out}",
            **provenance(), "config": config, "runs": [runs[s] for s in sorted(runs)],
        }, indent=1))


if __name__ == "__main__":
    main()
