"""A statistics-budget config run from start to end with several seeds, against the free baselines.

    python benchmarks/budget_seeds.py --config configs/nb201_cifar100.yaml --seeds 5 \\
        --out benchmarks/results/nb201_quick_seeds.json

Each seed is a whole run (``cbred_ray.reduce`` with ``seed`` set: its clustering, its sample, its
statistics), then the run's own budget report (``cbred report STORE``, one seed): the run's reduced
space, C-BRED (C), beside what a user with the same budget could keep at the same size: the networks
with the most parameters (Params-Quantiled) or MACs (MACs-Quantiled), and the regressor on the graph
features trained on the run's measured architectures. The result holds every seed's rows and, per
dataset, the means over the seeds with whether C-BRED is at or above each free baseline (and above
the regressor) in mean accuracy and in top-1 % recall. Stores are kept under ``--stores`` (a
temporary folder when not given), so a long measurement resumes.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from provenance import provenance

from cbred_ray.api import reduce
from cbred_ray.report.report import write_report

COMPARED = ("C-BRED (C)", "Params-Quantiled", "MACs-Quantiled", "Regressor")


def verdict(summary: pd.DataFrame) -> dict:
    """Whether C-BRED (C) is at or above each free baseline, and above the regressor, on both measures."""
    cbred = summary.loc["C-BRED (C)"]
    out = {}
    for other in COMPARED[1:]:
        for measure in ("mean", "top1_recall"):
            ahead = cbred[measure] > summary.loc[other, measure] if other == "Regressor" else \
                cbred[measure] >= summary.loc[other, measure]
            out[f"{measure} {'above' if other == 'Regressor' else 'at or above'} {other}"] = bool(ahead)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--stores", default=None, help="folder of the runs' stores (default: a temporary one)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    stores = Path(args.stores or tempfile.mkdtemp(prefix="budget_seeds_"))
    rows, runs = [], []
    for seed in range(args.seeds):
        store = stores / f"seed{seed}"
        began = time.perf_counter()
        result = reduce(args.config, store, overrides=(f"seed={seed}",), progress=False)
        report = json.loads((write_report(store, seeds=1, progress=False).parent / "results.json").read_text())
        selection = result.manifest["stages"]["selection"]
        runs.append({"seed": seed, "selected": selection["rows"], "clusters": selection.get("clusters",
                     [selection["cluster"]]), "measured": report["measured_architectures"],
                     "seconds": round(time.perf_counter() - began, 1)})
        rows += [r for r in report["rows"] if r["method"] in COMPARED]
        print(f"seed {seed}: {selection['rows']} kept, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    frame = pd.DataFrame(rows)
    datasets = {}
    for dataset, part in frame.groupby("dataset"):
        summary = part.groupby("method")[["size", "mean", "top1_recall"]].mean().loc[list(COMPARED)]
        datasets[dataset] = {"means_over_seeds": summary.round(4).reset_index().to_dict(orient="records"),
                             **verdict(summary)}
    out = {"command": f"python benchmarks/budget_seeds.py --config {args.config} --seeds {args.seeds} "
                      f"--out {args.out}", **provenance(), "config": args.config,
           "wall_seconds": round(time.perf_counter() - started, 1), "runs": runs, "datasets": datasets,
           "rows": frame.round(4).to_dict(orient="records")}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    for dataset, result in datasets.items():
        print(dataset, json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
