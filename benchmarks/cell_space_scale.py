"""End-to-end cost of clustering the 5-node cell space: a 1M sample, and all 9.77M with 1 and 2 workers.

    python benchmarks/cell_space_scale.py --out benchmarks/results/cell_space_scale.json

Each case is `cbred run CONFIG` (enumeration, canonical dedupe, features with Ray Data,
distributed k-means, clusters/) in a fresh process on a fresh store, with Ray limited
to ``workers`` CPUs. Reported per case: wall time of the run, the seconds of each stage
(from the manifest), the driver's peak resident memory, the rows and distinct cells,
and the k-means record. Then the cost ratio full / 1M and the speed-up of 2 workers over 1.
The speed-up is measured on the whole space (the 1M sample is over in seconds, mostly
fixed start-up costs). A case runs with ``--case CONFIG WORKERS STORE`` (what the driver
script calls).
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import provenance

CASES = [("configs/cell5_1m.yaml", 2), ("configs/cell5_full.yaml", 1), ("configs/cell5_full.yaml", 2)]


def run_case(config_path: str, workers: int, store: str) -> dict:
    import ray

    from cbred_ray.config import load_config
    from cbred_ray.pipeline.run import run_reduction

    ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR")
    started = time.perf_counter()
    manifest = run_reduction(load_config(config_path), store, progress=True)
    wall = time.perf_counter() - started
    clusters = manifest["stages"]["clusters"]
    return {
        "config": config_path, "workers": workers, "wall_seconds": round(wall, 1),
        "stage_seconds": {s: manifest["stages"][s]["seconds"] for s in ("graphs", "clusters")},
        "kmeans_fit_seconds": clusters["fit_seconds"],
        "driver_peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 3),
        "space": manifest["space"], "rows": manifest["rows"],
        "kmeans": {k: clusters[k] for k in ("k", "inertia", "iterations", "converged", "init_candidates", "graph_shards", "holders")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out")
    parser.add_argument("--case", nargs=3, metavar=("CONFIG", "WORKERS", "STORE"))
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], int(args.case[1]), args.case[2])))
        return
    results = []
    for config_path, workers in CASES:
        store = tempfile.mkdtemp(prefix="cbred-scale-")
        try:
            done = subprocess.run([sys.executable, __file__, "--case", config_path, str(workers), store + "/s"],
                                  check=True, stdout=subprocess.PIPE, text=True)
        finally:
            shutil.rmtree(store, ignore_errors=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr)
    by = {(r["config"], r["workers"]): r for r in results}
    sample, one, full = (by[("configs/cell5_1m.yaml", 2)], by[("configs/cell5_full.yaml", 1)],
                         by[("configs/cell5_full.yaml", 2)])
    summary = {
        "full_over_1m_wall": round(full["wall_seconds"] / sample["wall_seconds"], 2),
        "speedup_2_over_1_workers_full_space": {s: round(one["stage_seconds"][s] / full["stage_seconds"][s], 2)
                                                for s in ("graphs", "clusters")},
    }
    Path(args.out).write_text(json.dumps({
        "command": f"python benchmarks/cell_space_scale.py --out {args.out}",
        **provenance(),
        "cases": results, "summary": summary,
    }, indent=1))


if __name__ == "__main__":
    main()
