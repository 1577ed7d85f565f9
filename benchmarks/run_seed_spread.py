"""How much one run's correlation moves with the run's seed: the spread that a single published number sits in.

    for s in 0 1 2; do
        python benchmarks/score_sample.py --n 1000 --first 200 --seed 0 --run-seed $s --source cifar10-sample20 \\
            --num-classes 10 --stats grad_norm,snip,grasp,fisher,plain,zen,l2_norm --out STORE_$s
    done
    python benchmarks/run_seed_spread.py --run STORE_0/stats --run STORE_1/stats --run STORE_2/stats \\
        --dataset cifar10 --benchmark ../shared/nb201/nb201_test_accuracy.parquet \\
        --out benchmarks/results/run_seed_spread_cifar10.json

Every ``--run`` scores the same architectures with another run seed (the batch's crops and flips, the
networks' initial weights). For each statistic the correlation of every run with the dataset's test
accuracy is measured on the published number's own measure (``zero_cost_faithfulness.PUBLISHED``), and
reported with the runs' mean, standard deviation and range beside the published value: a gap to the
published number no larger than the run-to-run range is within what one run of the reference could
have drawn; one far outside it is not explained by the seed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from provenance import provenance  # noqa: E402
from zero_cost_faithfulness import TOLERANCE, compare  # noqa: E402

from cbred_ray.evaluate.benchmark import load_benchmark  # noqa: E402
from cbred_ray.spaces import space_of  # noqa: E402


def spread(runs: list[dict]) -> dict[str, dict]:
    """Per statistic: each run's value on the published measure (Spearman ρ where none is published), their
    mean, standard deviation (ddof 1) and range, and where the published value lies against them."""
    out = {}
    for name in runs[0]["statistics"]:
        rows = [run["statistics"][name] for run in runs]
        published = rows[0].get("published")
        values = np.array([row["ours_on_that_measure"] if published else row["spearman"]["value"] for row in rows])
        entry = {"measure": published["measure"] if published else "spearman",
                 "per_run": [round(float(v), 4) for v in values],
                 "mean": round(float(values.mean()), 4),
                 "sd": round(float(values.std(ddof=1)), 4) if len(values) > 1 else None,
                 "range": [round(float(values.min()), 4), round(float(values.max()), 4)]}
        if published:
            gap = float(values.mean() - published["value"])
            entry.update(published=published["value"], source=published["source"], gap_of_mean=round(gap, 4),
                         runs_within_tolerance=int((np.abs(values - published["value"]) <= TOLERANCE).sum()),
                         gap_in_sds=round(gap / entry["sd"], 2) if entry["sd"] else None)
        out[name] = entry
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", required=True, action="append", help="a stats dataset of one run seed, repeatable")
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    space = space_of(args.space)
    table = load_benchmark(args.benchmark, space)
    frames = [pd.read_parquet(path) for path in args.run]
    common = set.intersection(*(set(frame[space.id_column]) for frame in frames))
    runs = [compare(frame[frame[space.id_column].isin(common)], table, args.dataset, 0, 0, args.space)
            for frame in frames]
    result = {
        "command": "python benchmarks/run_seed_spread.py " + " ".join(f"--run STORE_{i}/stats" for i in
                                                                      range(len(frames)))
                   + f" --space {args.space} --dataset {args.dataset} --benchmark {args.benchmark} --out {args.out}",
        **provenance(), "space": args.space, "dataset": args.dataset, "runs": len(frames), "n_archs": len(common),
        "statistics": spread(runs),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for name, entry in result["statistics"].items():
        print(f"{name:18s} {entry['measure']:10s} runs {entry['per_run']} mean {entry['mean']:+.3f} sd {entry['sd']}"
              + (f" published {entry['published']:+.3f} gap {entry['gap_of_mean']:+.3f}" if "published" in entry else ""))


if __name__ == "__main__":
    main()
