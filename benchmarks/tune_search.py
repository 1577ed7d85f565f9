"""Ray Tune over C-BRED's reduced NB201 space: a real Tune experiment of many trials, each looking its accuracy up.

    python benchmarks/tune_search.py --trials 200 --out benchmarks/results/tune_search.json

The searcher (``cbred_ray.search.SpaceSearcher``) runs regularised evolution (population 20, tournament 5) in the
reduced space of ``configs/nb201_cifar100.yaml`` (its committed selection), with ``--concurrent`` trials at a time
on a local Ray; each trial's trainable reads the CIFAR-100 accuracy of its architecture from NB201's table (a
stand-in for training it). Recorded: the trials run, how many distinct architectures, whether every one is in the
reduced space, the best accuracy found and after how many trials the first of the whole space's top 1 % came, the
same search without Tune (``run_search``, one network at a time) for comparison, and the wall time per trial.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from provenance import REPO, provenance

RESULTS = REPO / "benchmarks" / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import ray
    from ray import tune

    from cbred_ray.search import Evolution, ReducedSpace, SpaceSearcher, run_search, table_objective
    from cbred_ray.spaces import build_space

    space = build_space("nb201")
    objective = table_objective(space, "cifar100")
    ids = pd.read_parquet(RESULTS / "nb201_cifar100_selection.parquet")[space.id_column].tolist()
    reduced = ReducedSpace.from_ids(space, ids, label="C-BRED")
    options = {"population": 20, "tournament": 5}

    def train(config):
        return {"accuracy": objective(config["arch"])}

    ray.init(num_cpus=args.concurrent, include_dashboard=False, log_to_driver=False)
    searcher = SpaceSearcher(reduced, "rea", seed=args.seed, metric="accuracy", mode="max", **options)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as storage:
        results = tune.Tuner(train, tune_config=tune.TuneConfig(search_alg=searcher, num_samples=args.trials,
                                                                max_concurrent_trials=args.concurrent),
                             run_config=tune.RunConfig(storage_path=storage, verbose=0)).fit()
        wall = time.perf_counter() - began
        frame = results.get_dataframe()
    ray.shutdown()
    frame = frame.sort_values("trial_id") if "trial_id" in frame else frame
    archs = frame["config/arch"].tolist()
    order = frame.sort_values("timestamp")["config/arch"].tolist() if "timestamp" in frame else archs
    scores = [objective(a) for a in order]
    top1 = objective.top(0.01)
    first_top = next((k + 1 for k, s in enumerate(scores) if s >= top1), None)
    alone = run_search(Evolution(reduced, args.seed, **options), objective, args.trials)
    record = {
        "command": "python benchmarks/tune_search.py " + " ".join(sys.argv[1:]), **provenance(),
        "ray": ray.__version__, "trials": len(frame), "errors": len(results.errors), "distinct": len(set(archs)),
        "all_in_reduced_space": bool(reduced.contains(archs).all()), "reduced_space_size": len(reduced),
        "best_accuracy": max(scores), "top1_threshold": top1, "trials_to_top1": first_top,
        "tuned_wall_seconds": round(wall, 1), "seconds_per_trial": round(wall / max(len(frame), 1), 3),
        "without_tune": {"best_accuracy": alone.best[1], "trials_to_top1": alone.queries_to(top1)},
        "settings": {"algorithm": "rea", **options, "concurrent": args.concurrent, "seed": args.seed,
                     "objective": "NB201 CIFAR-100 test accuracy (table lookup)"},
    }
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k not in ("machine",)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
