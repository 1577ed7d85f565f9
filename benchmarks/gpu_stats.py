"""Statistics on one GPU: throughput with 1, 2 and 4 actors per GPU, memory, and GPU = CPU.

    python benchmarks/gpu_stats.py --n 2000 --check 50 --out benchmarks/results/gpu_stats.json
    python benchmarks/gpu_stats.py --config configs/nb101_cifar10.yaml --n 2000 --check 50 \
        --out benchmarks/results/gpu_stats_nb101.json

For each packing (1, 2, 4 actors per GPU, i.e. ``num_gpus_per_actor`` 1, 0.5, 0.25), scores
the same seeded random sample of ``--n`` architectures of the config's space (NB201 by default,
NB101 with its config) with every statistic of the config's stats section (its input batch,
published image counts, width) into a
fresh store, and reports architectures per second (distinct cells per second too), the
wall time, and the peak GPU memory per actor (``torch.cuda.max_memory_allocated`` in each
actor). Then recomputes ``--check`` of those architectures on the CPU in this process
and compares every statistic with the GPU values: the relative difference must be within
``TOLERANCE`` (GPU kernels sum in a different order; the NTK condition number divides by
its smallest eigenvalue and so amplifies rounding most). Projects the whole-space time
from the best packing: distinct cells of NB201 / cells per second.

Needs a CUDA GPU; run it as one script, sized to fit a short device session.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from provenance import provenance

from cbred_ray.config import load_config
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.seeds import RunSeeds
from cbred_ray.stats import compute_stats, load_batch

TOLERANCE = {"naswot_v1": 1e-3, "naswot_v2": 1e-3, "ntk_cond": 5e-2, "linear_regions": 1e-2, "synflow": 1e-6,
             "logsynflow": 1e-6, "params": 0.0, "macs": 0.0}
"""Largest relative GPU-vs-CPU difference accepted per statistic."""


def rel_diff(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/nb201_cifar100_full.yaml")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--packings", type=int, nargs="+", default=[1, 2, 4], help="actors per GPU")
    parser.add_argument("--check", type=int, default=50, help="architectures recomputed on the CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu_stats.json"))
    parser.add_argument("--cpu", action="store_true",
                        help="rehearse the script without a GPU: each packing's actors run on CPUs instead")
    args = parser.parse_args()
    if not args.cpu and not torch.cuda.is_available():
        sys.exit("gpu_stats: no CUDA GPU visible (--cpu rehearses the script on CPUs)")
    config = load_config(args.config)
    space = config.space.space()
    archs = space.format_ids(space.sample(args.n, args.seed))
    distinct = len(np.unique(space.canonical_indices(space.parse_ids(archs))))
    all_distinct = len(np.unique(space.canonical_indices(np.arange(space.size))))
    runs, stats_of_first = [], None
    work = Path(tempfile.mkdtemp(prefix="gpu-stats-"))
    for per_gpu in args.packings:
        resources = config.resources.model_copy(update={"num_gpus_per_actor": 0.0 if args.cpu else 1.0 / per_gpu,
                                                        "num_actors": per_gpu})
        store = work / f"packing{per_gpu}"
        start = time.perf_counter()
        manifest = run_statistics(archs, config.stats, str(store), seed=config.seed, progress=True, space=space,
                                  resources=resources)
        seconds = time.perf_counter() - start
        stage = manifest["stages"]["stats"]
        runs.append({"actors_per_gpu": per_gpu, "wall_s": seconds, "archs_per_s": len(archs) / seconds,
                     "cells_per_s": stage["cells_computed"] / seconds, "gpu_peak_bytes_per_actor":
                     stage["gpu_peak_bytes_per_actor"], "device": stage["device"]})
        print(json.dumps(runs[-1]), flush=True)
        table = pd.read_parquet(store / "stats").set_index(space.id_column).sort_index()
        if stats_of_first is None:
            stats_of_first = table
        else:  # same config and seed: the packing must not change any value
            runs[-1]["same_values_as_first_packing"] = bool(
                table.drop(columns="error").equals(stats_of_first.drop(columns="error")))
    names = list(config.stats.names)
    seed = RunSeeds(config.seed).of("stats", 0)  # the seed the run's actors computed with
    batch, _, _ = load_batch(config.stats.data.source, config.stats.data.batch_size, seed, config.stats.data.augment)
    torch.set_num_threads(os.cpu_count() or 1)
    worst = {name: 0.0 for name in names}
    mismatched = {name: [] for name in names}
    for arch in archs[: args.check]:
        canonical = int(space.canonical_indices([space.parse_id(arch)])[0])
        cpu = compute_stats(space.networks(canonical, config.stats.width), names, batch, seed,
                            num_classes=config.stats.num_classes, options=config.stats.options)
        for name in names:
            gpu_value, cpu_value = stats_of_first.loc[arch, name], cpu[name][0]
            if cpu_value is None or gpu_value is None or (isinstance(gpu_value, float) and math.isnan(gpu_value)):
                if not ((cpu_value is None) and (gpu_value is None or math.isnan(gpu_value))):
                    mismatched[name].append({"arch": arch, "gpu": gpu_value, "cpu": cpu_value})
                continue
            diff = rel_diff(float(gpu_value), float(cpu_value))
            worst[name] = max(worst[name], diff)
            if diff > TOLERANCE[name]:
                mismatched[name].append({"arch": arch, "gpu": float(gpu_value), "cpu": cpu_value, "rel_diff": diff})
    best = max(runs, key=lambda r: r["cells_per_s"])
    result = {
        "command": ["python", *sys.argv],
        **provenance(gpu=None if args.cpu else torch.cuda.get_device_name(0), torch=torch.__version__),
        "config": args.config, "space": space.describe(), "n_archs": len(archs), "distinct_cells": distinct,
        "runs": runs,
        "gpu_vs_cpu": {"n_archs": min(args.check, len(archs)), "tolerance": TOLERANCE, "max_rel_diff": worst,
                       "outside_tolerance": mismatched,
                       "all_within_tolerance": not any(mismatched.values())},
        "whole_space_projection_s": all_distinct / best["cells_per_s"],
        "whole_space_projection_from": f"{best['actors_per_gpu']} actors per GPU, {all_distinct} distinct cells",
    }
    shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(json.dumps({k: result[k] for k in ("runs", "whole_space_projection_s")}, indent=1))
    print(json.dumps(result["gpu_vs_cpu"]["max_rel_diff"], indent=1))


if __name__ == "__main__":
    main()
