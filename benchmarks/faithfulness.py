"""Kendall τ between each training-free statistic in a store and benchmark accuracy.

    python benchmarks/faithfulness.py --stats STORE/stats \
        --benchmark ../shared/nb201/nb201_test_accuracy.parquet --out benchmarks/results/faithfulness.json

`--stats` is a store's stats dataset (or any Parquet with arch_str and statistic
columns). τ is computed over the architectures that have both a value and an
accuracy; its sign is as measured (the NTK condition number correlates
negatively), and `oriented_tau` multiplies it by the statistic's orientation.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
from scipy.stats import kendalltau

from cbred_ray.evaluate.benchmark import accuracy_columns, load_benchmark
from cbred_ray.stats.registry import STATISTICS


def faithfulness(stats: pd.DataFrame, table: pd.DataFrame, dataset: str) -> dict[str, dict]:
    joined = stats.merge(table, on="arch_str", how="inner")
    accuracy = accuracy_columns(table)[dataset]
    result = {}
    for name in [c for c in stats.columns if c in STATISTICS]:
        both = joined[[name, accuracy]].dropna()
        tau = float(kendalltau(both[name], both[accuracy]).statistic) if len(both) > 1 else float("nan")
        sign = 1.0 if STATISTICS[name].higher_is_better else -1.0
        result[name] = {"tau": round(tau, 4), "oriented_tau": round(sign * tau, 4), "n": int(len(both)),
                        "nulls": int(joined[name].isna().sum())}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", required=True)
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--label", default=None, help="what input/setup produced the statistics")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    stats = pd.read_parquet(args.stats)
    manifest_path = Path(args.stats).parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    result = {
        "command": " ".join(["python", *sys.argv]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count()},
        "label": args.label,
        "dataset": args.dataset,
        "n_archs": int(len(stats)),
        "batch": manifest.get("stages", {}).get("stats", {}).get("batch"),
        "kendall_tau": faithfulness(stats, load_benchmark(args.benchmark), args.dataset),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["kendall_tau"], indent=1))


if __name__ == "__main__":
    main()
