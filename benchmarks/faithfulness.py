"""Kendall τ between each training-free statistic and benchmark accuracy, for one or more inputs.

    python benchmarks/faithfulness.py --stats STORE/stats \\
        --benchmark ../shared/nb201/nb201_test_accuracy.parquet --out benchmarks/results/faithfulness.json
    python benchmarks/faithfulness.py --stats real25=S1/stats --stats synthetic=S2/stats ... --out RESULT.json

Each ``--stats`` is a store's stats dataset (or any Parquet with arch_str and statistic
columns), optionally labelled ``LABEL=PATH``. With several, τ is computed for each over
the architectures they all hold, so the inputs are compared on the same networks. τ is
over the architectures with both a value and an accuracy; its sign is as measured (the
NTK condition number correlates negatively); ``oriented_tau`` multiplies it by the
statistic's orientation; ``ci95`` is a bootstrap interval over architectures.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import provenance
from scipy.stats import kendalltau

from cbred_ray.evaluate.benchmark import accuracy_columns, load_benchmark
from cbred_ray.stats.registry import STATISTICS


def faithfulness(stats: pd.DataFrame, table: pd.DataFrame, dataset: str, bootstrap: int = 200,
                 seed: int = 0) -> dict[str, dict]:
    joined = stats.merge(table, on="arch_str", how="inner")
    accuracy = accuracy_columns(table)[dataset]
    rng = np.random.default_rng(seed)
    result = {}
    for name in [c for c in stats.columns if c in STATISTICS]:
        both = joined[[name, accuracy]].dropna().to_numpy()
        tau = float(kendalltau(both[:, 0], both[:, 1]).statistic) if len(both) > 1 else float("nan")
        draws = [kendalltau(*both[rng.integers(len(both), size=len(both))].T).statistic for _ in range(bootstrap)]
        sign = 1.0 if STATISTICS[name].higher_is_better else -1.0
        low, high = (np.nanpercentile(draws, [2.5, 97.5]) if draws and len(both) > 1 else (np.nan, np.nan))
        result[name] = {"tau": round(tau, 4), "oriented_tau": round(sign * tau, 4),
                        "ci95": [round(float(low), 4), round(float(high), 4)], "n": int(len(both)),
                        "nulls": int(joined[name].isna().sum())}
    return result


def _read(spec: str) -> tuple[str, pd.DataFrame, dict]:
    label, _, path = spec.rpartition("=")
    stats = pd.read_parquet(path)
    manifest_path = Path(path).parent / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    return label or path, stats, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", required=True, action="append", help="[LABEL=]PATH, repeatable")
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--dataset", default="cifar100")
    parser.add_argument("--label", default=None, help="what the comparison is")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    inputs = [_read(spec) for spec in args.stats]
    common = set.intersection(*(set(stats["arch_str"]) for _, stats, _ in inputs))
    table = load_benchmark(args.benchmark)
    results = {}
    for label, stats, manifest in inputs:
        stage = manifest.get("stages", {}).get("stats", {})
        results[label] = {
            "store_config": manifest.get("config"),  # how STORE_i was made: stats settings, seed, architectures
            "batch": stage.get("batch"),
            "kendall_tau": faithfulness(stats[stats["arch_str"].isin(common)], table, args.dataset, args.bootstrap),
        }
    command = ["python", "benchmarks/faithfulness.py", *[f"--stats {label}=STORE_{i}/stats" for i, (label, _, _) in
                                                        enumerate(inputs)], f"--benchmark {args.benchmark}",
               f"--dataset {args.dataset}", f"--out {args.out}"]
    result = {
        "command": " ".join(command),
        **provenance(),
        "label": args.label,
        "dataset": args.dataset,
        "n_archs": len(common),
        "inputs": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    names = [name for name in STATISTICS if any(name in r["kendall_tau"] for r in results.values())]
    print(f"{'statistic':15s}" + "".join(f"{label:>26s}" for label in results))
    for name in names:
        cells = [results[label]["kendall_tau"].get(name) for label in results]
        print(f"{name:15s}" + "".join(f"{'-':>26s}" if c is None else
                                      f"{c['tau']:>8.3f} [{c['ci95'][0]:.3f},{c['ci95'][1]:.3f}]" for c in cells))


if __name__ == "__main__":
    main()
