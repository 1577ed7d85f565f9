"""Time each training-free statistic, and the full set, per NB201 architecture on CPU.

Example:
    python benchmarks/stats_throughput.py --n-archs 20 --batch-size 64 \
        --source synthetic --source ../shared/cifar100/cifar100_sample25.npz \
        --out benchmarks/results/stats_throughput.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import torch

from cbred_ray.stats import STATISTICS, build_network, compute_stats, load_batch
from cbred_ray.stats.network import OP_NAMES


def sample_cells(n: int, seed: int) -> list[list[str]]:
    """``n`` seeded random NB201 cells (6 uniformly drawn op indices each)."""
    rng = random.Random(seed)
    return [[OP_NAMES[rng.randrange(len(OP_NAMES))] for _ in range(6)] for _ in range(n)]


def time_call(fn) -> float:
    """Wall-clock seconds of one call; failures are timed too (they are part of the cost)."""
    start = time.perf_counter()
    try:
        fn()
    except Exception:  # a failing statistic (e.g. singular kernel) still costs its time
        pass
    return time.perf_counter() - start


def time_cells(cells: list[list[str]], batch: torch.Tensor, seed: int) -> dict[str, list[float]]:
    """Seconds per cell: network build, each statistic alone on a built network, and compute_stats."""
    times: dict[str, list[float]] = {name: [] for name in ("build", *STATISTICS, "compute_stats_all")}
    for cell in cells:
        torch.manual_seed(seed)
        start = time.perf_counter()
        net = build_network(cell)
        times["build"].append(time.perf_counter() - start)
        for name, stat in STATISTICS.items():
            call = (lambda: stat.fn(net, batch)) if stat.needs_batch else (lambda: stat.fn(net))
            times[name].append(time_call(call))
        times["compute_stats_all"].append(time_call(lambda: compute_stats(cell, list(STATISTICS), batch, seed)))
    return times


def summarise(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Mean, median and max seconds per architecture for each timed item."""
    return {
        name: {"mean_s": statistics.fmean(v), "median_s": statistics.median(v), "max_s": max(v)}
        for name, v in times.items()
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-archs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--source", action="append", default=None,
                        help="'synthetic' or a path (.npz or cifar-100-python folder); repeatable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, action="append", default=None,
                        help="torch intra-op threads to try (repeatable); 0 = torch's default")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/stats_throughput.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    default_threads = torch.get_num_threads()
    cells = sample_cells(args.n_archs, args.seed)
    runs = []
    for source in args.source or ["synthetic"]:
        batch, description = load_batch(None if source == "synthetic" else source, args.batch_size, args.seed)
        for threads in args.threads or [1, 0]:
            torch.set_num_threads(threads or default_threads)
            time_cells(cells[:1], batch, args.seed)  # warm-up: first-call costs are not per-architecture
            summary = summarise(time_cells(cells, batch, args.seed))
            runs.append({"batch": description, "torch_threads": torch.get_num_threads(), "seconds_per_arch": summary})
            print(f"{source} threads={torch.get_num_threads()}: "
                  + ", ".join(f"{k}={v['mean_s']:.3f}s" for k, v in summary.items()), flush=True)
    torch.set_num_threads(default_threads)
    result = {
        "command": ["python", *sys.argv] if argv is None else ["stats_throughput.py", *argv],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpu_count": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version()},
        "n_archs": args.n_archs,
        "seed": args.seed,
        "cells": cells,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
