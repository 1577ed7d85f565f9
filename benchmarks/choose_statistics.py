"""Choose the statistics (and how to combine them) of ``configs/nb201_cifar100_modern.yaml``, from CIFAR-10 only.

    python benchmarks/choose_statistics.py --stats STORE_A/stats --stats STORE_B/stats \\
        --cost benchmarks/results/engine_speedup.json --benchmark ../shared/nb201/nb201_test_accuracy.parquet \\
        --out benchmarks/results/modern_choice.json
    python benchmarks/choose_statistics.py --space nb101 --stats benchmarks/results/nb101_sample300_width8_stats.parquet \\
        --cost benchmarks/results/nb101_width8_zero_cost.json --cost benchmarks/results/nb101_width8_paper_stats.json \\
        --benchmark ../shared/nb101/nb101_test_accuracy.parquet --out benchmarks/results/nb101_modern_choice.json

The rule, fixed before any CIFAR-100 number of the new statistics was looked at:

1. Candidates: every quality statistic of the sample (the ``--stats`` datasets: a seeded sample of NB201 scored
   with CIFAR-10's images) whose engine cost per architecture (``--cost``, one thread) is at most
   ``--max-seconds``.
2. For each combination rule (mean of ranks, log-rank sum), greedy forward selection: start from the
   candidate with the highest Kendall τ with CIFAR-10 test accuracy; add, one at a time, the candidate that
   raises the τ of the combined rank most; stop when the best addition raises it by less than ``--min-gain``.
3. Keep the combination rule whose final set has the higher τ (the mean on a tie).

Only CIFAR-10 accuracy is read, so that the CIFAR-100 result of the chosen configuration stays a test.
On NB101 (``--space nb101``, CIFAR-10 only) the sample is ``nb101_width.py``'s 300 labelled cells, and the
test is the reduction of the whole space (423,624 cells) by the chosen configuration. A ``--cost`` file is
an ``engine_speedup.py`` result (engine seconds) or an ``nb101_width.py`` one (seconds per cell at its
width, each statistic alone). Architectures on which a statistic failed are ranked last by it.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import provenance
from scipy.stats import kendalltau
from zero_cost_faithfulness import read_stats, stats_arguments

from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.select.reduction import ensemble_rank
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.spaces import space_of
from cbred_ray.stats.registry import STATISTICS

DATASET_COLUMN = "cifar10_test_acc"


def ranks_failed_last(stats: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Oriented percentile ranks, a failed (null) value ranked below every other."""
    ranks = oriented_ranks(stats, tuple(names))
    return ranks.fillna(0.5 / len(ranks))


def tau(ranks: pd.DataFrame, names: list[str], combine: str, accuracy: np.ndarray) -> float:
    return float(kendalltau(ensemble_rank(ranks[names], combine).to_numpy(), accuracy).statistic)


def greedy(ranks: pd.DataFrame, candidates: list[str], combine: str, accuracy: np.ndarray, min_gain: float) -> dict:
    chosen, path = [], []
    best = -np.inf
    while True:
        trials = {name: tau(ranks, [*chosen, name], combine, accuracy) for name in candidates if name not in chosen}
        if not trials:
            break
        name, value = max(trials.items(), key=lambda item: (item[1], -candidates.index(item[0])))
        if chosen and value - best < min_gain:
            break
        chosen.append(name)
        best = value
        path.append({"add": name, "tau": round(value, 4)})
    return {"combine": combine, "statistics": chosen, "tau": round(best, 4), "path": path}


def seconds_per_statistic(result: dict) -> dict[str, float]:
    """Seconds per architecture of each statistic in a cost result (``engine_speedup.py`` or ``nb101_width.py``)."""
    if "summary" in result:
        return {name: row["engine_mean_s"] for name, row in result["summary"]["per_statistic"].items()}
    (width,) = result["widths"].values()
    return {name: s for name, s in width["seconds_per_cell_1_thread"].items() if name != "all"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stats", required=True, action="append")
    parser.add_argument("--cost", required=True, action="append",
                        help="an engine_speedup.py or one-width nb101_width.py result (seconds per statistic)")
    parser.add_argument("--space", default="nb201")
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--max-seconds", type=float, default=2.0)
    parser.add_argument("--min-gain", type=float, default=0.005)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    space = space_of(args.space)
    key = space.id_column
    joined = read_stats(args.stats, key).merge(load_benchmark(args.benchmark, space)[[key, DATASET_COLUMN]], on=key, how="inner")
    accuracy = joined[DATASET_COLUMN].to_numpy(dtype=np.float64)
    seconds = {}
    for path in args.cost:
        seconds.update(seconds_per_statistic(json.loads(Path(path).read_text())))
    names = [n for n in joined.columns if n in STATISTICS and STATISTICS[n].kind == "quality"]
    candidates = [n for n in names if seconds.get(n, np.inf) <= args.max_seconds]
    ranks = ranks_failed_last(joined, names)
    alone = {n: round(tau(ranks, [n], "mean", accuracy), 4) for n in names}
    candidates.sort(key=lambda n: -alone[n])
    runs = [greedy(ranks, candidates, combine, accuracy, args.min_gain) for combine in ("mean", "log_rank")]
    choice = max(runs, key=lambda run: (run["tau"], run["combine"] == "mean"))
    result = {
        "command": "python benchmarks/choose_statistics.py " + stats_arguments(args.stats)
                   + "".join(f" --cost {path}" for path in args.cost)
                   + f" --space {args.space} --benchmark {args.benchmark} --max-seconds {args.max_seconds} "
                     f"--min-gain {args.min_gain} --out {args.out}",
        **provenance(),
        "rule": __doc__.split("The rule, ")[1].split("Only CIFAR-10")[0].strip(),
        "n_archs": int(len(joined)), "accuracy": DATASET_COLUMN,
        "engine_seconds": {n: round(seconds[n], 3) for n in names if n in seconds},
        "tau_alone": alone, "candidates": candidates, "runs": runs, "choice": choice,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("tau_alone", "candidates", "runs", "choice")}, indent=1))


if __name__ == "__main__":
    main()
