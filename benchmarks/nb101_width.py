"""The width at which NB101 statistics are computed: cost and faithfulness on a labelled sample.

    python benchmarks/nb101_width.py --n 300 --seed 0 --widths 8,16,32 --work WORK \
        --out benchmarks/results/nb101_width.json
    python benchmarks/nb101_width.py --n 300 --seed 0 --widths 8 --batch-size 256 --stats zico,meco,... \
        --work WORK --out RESULT.json    # other statistics on the same labelled sample

Full-width NB101 networks (a 128-channel stem, up to 512 channels in the last stack) are heavy
on a CPU, so statistics are computed on the same network at a smaller stem (``stats.width``).
For each width this scores a seeded random sample of NB101 cells (drawn by index, without
looking at any accuracy) with every statistic NB101 networks support, on the built-in CIFAR-10
images (enlarged to ``--batch-size`` by seeded crops and flips, each with its image's label), through
``cbred stats``' own path (Ray actors, one per CPU; a store per width under WORK,
so a killed run resumes), and then, only then, joins the benchmark's CIFAR-10 test accuracy to
measure each statistic's Kendall τ (95 % bootstrap interval) and records the seconds per cell.
The default width is chosen from this file and fixed before any reduction is measured.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from cbred_ray.config import StatsConfig
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.spaces.nb101 import nb101_space
from cbred_ray.stats.data import load_batch
from cbred_ray.stats.engine import compute_stats
from cbred_ray.store import Store

sys.path.insert(0, str(Path(__file__).parent))
from provenance import provenance  # noqa: E402

STATISTICS = ("naswot_v1", "naswot_v2", "ntk_cond", "synflow", "logsynflow", "params", "macs")
BOOTSTRAP = 1000


def tau_with_interval(values: np.ndarray, accuracy: np.ndarray, seed: int) -> dict:
    """Kendall τ of a statistic with accuracy over the cells where it is defined, and a 95 % bootstrap interval."""
    ok = np.isfinite(values)
    values, accuracy = values[ok], accuracy[ok]
    tau = float(kendalltau(values, accuracy).statistic)
    rng = np.random.default_rng(seed)
    draws = [kendalltau(values[i], accuracy[i]).statistic for i in
             (rng.integers(0, len(values), len(values)) for _ in range(BOOTSTRAP))]
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return {"tau": round(tau, 4), "low": round(float(low), 4), "high": round(float(high), 4), "n": int(ok.sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--widths", default="8,16,32")
    parser.add_argument("--stats", default=",".join(STATISTICS))
    parser.add_argument("--work", required=True, help="folder for one store per width")
    parser.add_argument("--benchmark", default="../shared/nb101/nb101_test_accuracy.parquet")
    parser.add_argument("--batch-size", type=int, default=128, help="images in the batch (crops of the built-in 20)")
    parser.add_argument("--cost-cells", type=int, default=10, help="cells of the sample timed one by one")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    space = nb101_space()
    sample = space.sample(args.n, args.seed)  # by index: no accuracy read
    hashes = space.format_ids(sample)
    names = tuple(args.stats.split(","))
    costs = {int(w): cost_per_cell(space, sample[: args.cost_cells], int(w), names, args.batch_size, args.seed)
             for w in args.widths.split(",")}
    print(f"seconds per cell: {costs}", file=sys.stderr, flush=True)
    runs = {}
    for width in (int(w) for w in args.widths.split(",")):
        cfg = StatsConfig(names=names, num_classes=10, width=width, shard_size=5,
                          data={"source": "cifar10-sample20", "batch_size": args.batch_size})
        started = time.perf_counter()
        manifest = run_statistics(hashes, cfg, str(Path(args.work) / f"width{width}"), seed=args.seed, space=space)
        record = manifest["stages"]["stats"]
        runs[width] = {"wall_seconds_this_call": round(time.perf_counter() - started, 1),
                       "stage_seconds": record.get("seconds"), "actors": record.get("actors"),
                       "cells": record.get("cells_computed")}
        print(f"width {width}: {runs[width]}", file=sys.stderr, flush=True)
    table = pd.read_parquet(args.benchmark, columns=["hash", "cifar10_test_acc"]).set_index("hash")  # only now
    results = {}
    for width, run in runs.items():
        stats = Store(Path(args.work) / f"width{width}").read("stats").to_pandas().set_index("hash").loc[hashes]
        accuracy = table.loc[hashes, "cifar10_test_acc"].to_numpy()
        results[width] = {**run, "seconds_per_cell_1_thread": costs[width],
                          "tau": {n: tau_with_interval(stats[n].to_numpy(dtype=float), accuracy, args.seed)
                                  for n in names},
                          "failed": {n: int(stats[n].isna().sum()) for n in names}}
    params = table.loc[hashes]
    result = {
        "command": " ".join(["python", "benchmarks/nb101_width.py", *sys.argv[1:]]).replace(args.work, "WORK"),
        **provenance(torch_threads=1),
        "sample": {"n": args.n, "seed": args.seed, "drawn": "space.sample(n, seed) over the 423,624 cells"},
        "batch": f"cifar10-sample20 enlarged to {args.batch_size} with seeded crops and flips, with their labels "
                 "(each statistic reads its published number of images of it)",
        "space_mean_accuracy_of_sample": round(float(params["cifar10_test_acc"].mean()), 3),
        "widths": results,
    }
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps({w: {n: r["tau"][n]["tau"] for n in names} for w, r in results.items()}, indent=1))


def cost_per_cell(space, cells: np.ndarray, width: int, names: tuple[str, ...], batch_size: int, seed: int) -> dict:
    """Mean seconds per cell of each statistic computed alone (one torch thread, a batch of ``batch_size``), and of
    all of them together as the engine computes them (sharing passes)."""
    import torch

    torch.set_num_threads(1)
    batch, labels, _ = load_batch("cifar10-sample20", batch_size, seed)
    seconds = {}
    for group in [(n,) for n in names] + [names]:
        started = time.perf_counter()
        for index in cells:
            compute_stats(space.networks(int(index), width), group, batch, seed, num_classes=10, labels=labels)
        seconds["all" if len(group) > 1 else group[0]] = round((time.perf_counter() - started) / len(cells), 3)
    return seconds


if __name__ == "__main__":
    main()
