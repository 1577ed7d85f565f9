"""The DARTS space reduced end to end from a sample of 1,000,000 genotypes, for several seeds.

    python benchmarks/darts_cifar10.py --seeds 0,1,2 --work WORK --out benchmarks/results/darts_cifar10.json

Each seed is one ``cbred run configs/darts_cifar10.yaml --set seed=S`` measured by ``run_reduction.py`` (wall
time, peak memory of all processes; its JSON under WORK, so a seed already measured is not run again). The
result gathers, per seed: wall time, peak memory, the architectures whose statistics were computed, the
halving rounds, the kept cluster and the size of the sample it holds, and the region's estimated share of the
whole space (an independent seeded sample of 100,000, 95 % Wilson interval); then, only after the run, how
the 400 labelled NAS-Bench-301 architectures fall in the region (``cbred evaluate``: how many are inside,
their mean CIFAR-10 validation accuracy against all 400's, the difference with a bootstrap 95 % interval);
and the targets: within 60 minutes and 6 GB, statistics for at most 5,000 architectures.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from provenance import provenance

CONFIG = "configs/darts_cifar10.yaml"
TABLE = "../shared/nb301/nb301_cifar10_sample400.parquet"
MINUTES, GIB, BUDGET = 60, 6, 5000


def labelled(evaluation: dict | None) -> dict | None:
    """How the labelled architectures fall in the region: inside, their mean against all, the difference."""
    if evaluation is None:
        return None
    (name, data), = evaluation["datasets"].items()
    return {"accuracy": name, "labelled": evaluation["labelled"], "inside": evaluation["inside"],
            **{k: data[k] for k in ("mean_all", "mean_inside", "mean_inside_interval", "difference",
                                    "difference_interval")}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--work", required=True, help="folder for each seed's run_reduction JSON (and its store)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in (int(s) for s in args.seeds.split(",")):
        measured = work / f"seed{seed}.json"
        if not measured.exists():
            subprocess.run([sys.executable, str(Path(__file__).with_name("run_reduction.py")), "--config", CONFIG,
                            "--set", f"seed={seed}", "--out", str(measured), "--store", str(work / f"store{seed}"),
                            "--benchmark", TABLE],
                           check=True)
        run = json.loads(measured.read_text())
        selection, halving = run["selection_stage"], run["stats_stage"]["halving"]
        estimate = selection["region"]["estimate"]
        runs.append({"seed": seed, "wall_seconds": run["wall_seconds"], "wall_minutes": round(run["wall_seconds"] / 60, 1),
                     "peak_rss_gib_all_processes": round(run["peak_rss_mib_all_processes"] / 1024, 2),
                     "stage_seconds": run["stage_seconds"], "statistics_computed": run["measured_architectures"],
                     "halving_rounds": len(halving["rounds"]), "kept_cluster": selection["cluster"],
                     "kept_of_the_sample": selection["rows"], "region_agreement": selection["region"]["agreement"],
                     "region_share": estimate["share"], "region_share_interval": [estimate["share_low"],
                                                                                  estimate["share_high"]],
                     "region_architectures": estimate["architectures"], "near_ties": selection.get("near_ties", []),
                     "labelled": labelled(run.get("evaluation")),
                     "run_date": run["date"], "run_git_commit": run["git_commit"]})
        print(f"seed {seed}: {runs[-1]['wall_minutes']} min, {runs[-1]['peak_rss_gib_all_processes']} GiB, "
              f"region {estimate['share']:.2%}", file=sys.stderr)
    targets = {"within_minutes": MINUTES, "within_gib": GIB, "statistics_at_most": BUDGET,
               "met": all(r["wall_seconds"] <= 60 * MINUTES and r["peak_rss_gib_all_processes"] <= GIB
                          and r["statistics_computed"] <= BUDGET for r in runs)}
    out = {"command": f"python benchmarks/darts_cifar10.py --seeds {args.seeds} --work WORK --out {args.out}",
           **provenance(), "config": CONFIG, "targets": targets, "runs": runs}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
