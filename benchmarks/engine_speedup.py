"""Speed-up of the statistics engine over the per-statistic baseline, and their agreement.

On one seeded random sample of NB201 cells, in one run, alternating per architecture:
(a) ``compute_stats`` with all eight statistics (one call: the engine builds each network
kind once), and (b) ``benchmarks/baseline_stats.py``, each statistic on its own (own
network, own passes, plain autograd, per-sample Python loops where the references loop).
Reports seconds per architecture, the speed-up baseline / engine overall and per
statistic, and the largest relative difference between engine and baseline values.

Per-statistic times: the engine's are the time of each statistic's function inside the
single ``compute_stats`` call, a shared pass split evenly between the statistics that read
it (network builds and input crops are its "overhead"); the baseline's include building
its own network, which is part of doing it on its own. Both sides read the same images:
each statistic its published number of them (NASWOT 128, the NTK 32) from one batch.

Example:
    python benchmarks/engine_speedup.py --n-archs 12 --threads 1 --out benchmarks/results/engine_speedup.json
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

import torch

from cbred_ray.spaces.cell.network import OP_NAMES
from cbred_ray.stats import STATISTICS, compute_stats, load_batch
from cbred_ray.stats import engine as engine_module

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baseline_stats import NAMES, baseline_calls  # noqa: E402
from provenance import provenance


def sample_cells(n: int, seed: int) -> list[list[str]]:
    """``n`` seeded random NB201 cells (6 uniformly drawn op indices each)."""
    rng = random.Random(seed)
    return [[OP_NAMES[rng.randrange(len(OP_NAMES))] for _ in range(6)] for _ in range(n)]


def rel_diff(a: float, b: float) -> float:
    """|a - b| / max(|a|, |b|); 0 when both are 0."""
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def run_engine(cell: list[str], batch: torch.Tensor, labels: torch.Tensor, seed: int) -> dict:
    """compute_stats with every statistic, timed as a whole and per statistic function."""
    seconds: dict[str, float] = {}

    def timed(name, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    # A statistic's time is its own function's (alone) or its score from a shared pass; the
    # shared passes are timed as "<pass> pass" and split evenly between the statistics that read it.
    patched = {
        name: dataclasses.replace(
            stat, fn=timed(name, stat.fn), score=stat.score and timed(name, stat.score),
            shared=stat.shared and dataclasses.replace(stat.shared, run=timed(f"{stat.shared.name} pass", stat.shared.run)))
        for name, stat in STATISTICS.items()
    }
    with mock.patch.dict(engine_module.STATISTICS, patched):
        start = time.perf_counter()
        results = compute_stats(cell, list(NAMES), batch, seed, labels=labels)
        total = time.perf_counter() - start
    readers: dict[str, list[str]] = {}
    for name in NAMES:
        if STATISTICS[name].shared is not None:
            readers.setdefault(f"{STATISTICS[name].shared.name} pass", []).append(name)
    passes = {key: seconds.pop(key) for key in list(seconds) if key.endswith(" pass")}
    for key, pass_s in passes.items():
        for name in readers[key]:
            seconds[name] = seconds.get(name, 0.0) + pass_s / len(readers[key])
    return {
        "total_s": total,
        "overhead_s": total - sum(seconds.values()),
        "seconds": seconds,
        "shared_pass_seconds": passes,
        "values": {name: results[name][0] for name in NAMES},
        "reasons": {name: results[name][1] for name in NAMES if results[name][1]},
    }


def run_baseline(cell: list[str], batch: torch.Tensor, labels: torch.Tensor, seed: int) -> dict:
    """Each baseline statistic on its own, timed; failures (exception, non-finite) recorded."""
    seconds, values, errors = {}, {}, {}
    for name, call in baseline_calls(cell, batch, labels, seed).items():
        start = time.perf_counter()
        try:
            value = call()
        except Exception as err:  # a failing statistic still costs its time
            value, errors[name] = None, f"{type(err).__name__}: {err}"[:200]
        seconds[name] = time.perf_counter() - start
        if value is not None and not math.isfinite(value):
            errors[name] = f"non-finite value {value}"
        values[name] = value
    return {"total_s": sum(seconds.values()), "seconds": seconds, "values": values, "errors": errors}


def summarise(records: list[dict]) -> dict:
    """Seconds per architecture, speed-ups and agreement over all architectures."""
    def per_arch(side: str, key: str) -> dict[str, float]:
        values = [r[side][key] for r in records]
        return {"mean_s": statistics.fmean(values), "median_s": statistics.median(values), "max_s": max(values)}

    per_stat = {}
    for name in NAMES:
        engine_s = sum(r["engine"]["seconds"].get(name, 0.0) for r in records)
        base_s = sum(r["baseline"]["seconds"][name] for r in records)
        diffs, both_failed, one_failed = [], [], []
        for r in records:
            e, b = r["engine"]["values"][name], r["baseline"]["values"][name]
            b_ok = b is not None and math.isfinite(b)
            if e is not None and b_ok:
                diffs.append((rel_diff(e, b), r["cell"]))
            elif e is None and not b_ok:
                both_failed.append(r["cell"])
            else:
                one_failed.append({"cell": r["cell"], "engine": e, "engine_reason": r["engine"]["reasons"].get(name),
                                   "baseline": b, "baseline_error": r["baseline"]["errors"].get(name)})
        worst = max(diffs, default=(None, None))
        per_stat[name] = {
            "engine_mean_s": engine_s / len(records),
            "baseline_mean_s": base_s / len(records),
            "speedup": base_s / engine_s if engine_s > 0 else None,
            "max_rel_diff": worst[0],
            "worst_cell": worst[1],
            "n_compared": len(diffs),
            "both_failed": both_failed,
            "one_failed": one_failed,
        }
    engine_total = sum(r["engine"]["total_s"] for r in records)
    base_total = sum(r["baseline"]["total_s"] for r in records)
    return {
        "engine_seconds_per_arch": per_arch("engine", "total_s"),
        "engine_overhead_seconds_per_arch": per_arch("engine", "overhead_s"),
        "baseline_seconds_per_arch": per_arch("baseline", "total_s"),
        "speedup_overall": base_total / engine_total,
        "per_statistic": per_stat,
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-archs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128, help="images in the batch (each statistic reads "
                        "its published number of them, as in a run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", default="cifar100-sample25",
                        help="'cifar100-sample25' or a path (.npz or cifar-100-python folder) with labels, as load_batch")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads, both sides")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engine_speedup.json"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    batch, labels, description = load_batch(args.source, args.batch_size, args.seed)
    if labels is None:
        raise SystemExit(f"--source {args.source!r} has no labels: the loss-gradient statistics need them")
    cells = sample_cells(args.n_archs, args.seed)
    # Warm-up (not timed): lazy imports, first torch.func / FlopCounterMode use, allocator.
    run_engine(cells[0], batch[:8], labels[:8], args.seed)
    run_baseline(cells[0], batch[:8], labels[:8], args.seed)
    records = []
    for index, cell in enumerate(cells):
        record = {"cell": cell, "engine": run_engine(cell, batch, labels, args.seed),
                  "baseline": run_baseline(cell, batch, labels, args.seed)}
        records.append(record)
        print(f"[{index + 1}/{len(cells)}] {'|'.join(cell)}: engine {record['engine']['total_s']:.2f}s, "
              f"baseline {record['baseline']['total_s']:.2f}s", flush=True)
    summary = summarise(records)
    print(f"seconds per architecture (mean): engine {summary['engine_seconds_per_arch']['mean_s']:.2f}, "
          f"baseline {summary['baseline_seconds_per_arch']['mean_s']:.2f}; "
          f"overall speed-up {summary['speedup_overall']:.2f}x")
    print(f"{'statistic':15s} {'engine s':>9s} {'base s':>9s} {'speed-up':>9s} {'max rel diff':>13s}")
    for name, row in summary["per_statistic"].items():
        diff = "n/a" if row["max_rel_diff"] is None else f"{row['max_rel_diff']:.2e}"
        speed = "n/a" if row["speedup"] is None else f"{row['speedup']:.2f}x"
        print(f"{name:15s} {row['engine_mean_s']:9.3f} {row['baseline_mean_s']:9.3f} {speed:>9s} {diff:>13s}"
              + (f"  one side failed on {len(row['one_failed'])}" if row["one_failed"] else "")
              + (f"  both failed on {len(row['both_failed'])}" if row["both_failed"] else ""))
    result = {
        "command": ["python", *sys.argv] if argv is None else ["engine_speedup.py", *argv],
        **provenance(processor=platform.processor(), torch=torch.__version__),
        "settings": {"n_archs": args.n_archs, "batch_size": args.batch_size, "seed": args.seed,
                     "source": args.source, "torch_threads": torch.get_num_threads(), "batch": description,
                     "statistics": list(NAMES),
                     "timing": "engine per-statistic seconds exclude network builds (engine overhead); a pass "
                               "shared by several statistics is split evenly between them (shared_pass_seconds "
                               "per record); baseline per-statistic seconds include building its own network"},
        "cells": cells,
        "summary": summary,
        "records": records,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
