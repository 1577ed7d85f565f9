"""Macro space: parameters and MACs in closed form against every built network.

    python benchmarks/macro_params.py --config configs/macro_mbv2_cifar10.yaml \
        --out benchmarks/results/macro_params.json

``MacroSpace.costs`` (closed form, numpy) for every architecture of the config's space, then the torch
network of every architecture, built on the CPU (``networks(i).build("standard", num_classes)``, the
network ``costs`` describes) over ``--workers`` processes of one torch thread each, and its
:func:`~cbred_ray.stats.cost.params` and :func:`~cbred_ray.stats.cost.macs` (one forward pass of a zero
``input_size``² image, hooks on every convolution and linear layer): they must be equal for every
architecture. Timed: the closed form's wall seconds, the built networks' wall seconds and the workers'
CPU seconds (process time, which other load on the machine does not inflate).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from provenance import provenance

from cbred_ray.config import load_config


def built_costs(config: str, indices: list[int]) -> tuple[list[tuple[int, float, float]], float]:
    """((index, params, MACs) of each architecture's built network; the worker's process seconds)."""
    import torch

    from cbred_ray.stats.cost import macs, params

    torch.set_num_threads(1)
    run = load_config(config)
    space, classes = run.space.space(), run.stats.num_classes
    shape = (1, 3, space.input_size, space.input_size)
    started = time.process_time()
    out = []
    for index in indices:
        net = space.networks(index).build("standard", classes)
        out.append((index, params(net), macs(net, shape)))
    return out, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/macro_mbv2_cifar10.yaml")
    parser.add_argument("--out", default="benchmarks/results/macro_params.json")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=100, help="architectures per task")
    args = parser.parse_args()

    import torch

    run = load_config(args.config)
    space, classes = run.space.space(), run.stats.num_classes
    index = np.arange(space.size)
    started = time.perf_counter()
    closed_params, closed_macs = space.costs(index, classes)
    closed_seconds = time.perf_counter() - started

    started = time.perf_counter()
    built_params, built_macs, cpu = np.full(space.size, np.nan), np.full(space.size, np.nan), 0.0
    tasks = [index[i:i + args.chunk].tolist() for i in range(0, space.size, args.chunk)]
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        for done, seconds in pool.map(built_costs, [args.config] * len(tasks), tasks):
            cpu += seconds
            for i, p, m in done:
                built_params[i], built_macs[i] = p, m
    built_seconds = time.perf_counter() - started

    wrong = np.flatnonzero((built_params != closed_params) | (built_macs != closed_macs))
    ids = space.format_ids(wrong[:10])
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        **provenance(torch=torch.__version__),
        "config": args.config,
        "space": space.describe(),
        "num_classes": classes,
        "architectures": int(space.size),
        "closed_form": {"wall_seconds": round(closed_seconds, 3), "threads": "one process, numpy"},
        "built_network": {"device": "cpu", "workers": args.workers, "torch_threads_per_worker": 1,
                          "architectures_checked": int(np.isfinite(built_params).sum()),
                          "wall_seconds": round(built_seconds, 1), "worker_cpu_seconds": round(cpu, 1),
                          "cpu_seconds_per_architecture": round(cpu / space.size, 4)},
        "mismatches": len(wrong),
        "first_mismatches": [{"arch": a, "closed_params": closed_params[i], "built_params": built_params[i],
                              "closed_macs": closed_macs[i], "built_macs": built_macs[i]}
                             for a, i in zip(ids, wrong[:10].tolist())],
        "params": {"min": closed_params.min(), "median": float(np.median(closed_params)), "max": closed_params.max()},
        "macs": {"min": closed_macs.min(), "median": float(np.median(closed_macs)), "max": closed_macs.max()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("architectures", "mismatches", "closed_form", "built_network")}))
    if len(wrong):
        sys.exit(f"{len(wrong)} architectures' built networks differ from the closed form")


if __name__ == "__main__":
    main()
