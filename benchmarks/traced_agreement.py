"""Traced computational graphs (``cbred_ray.graphs.traced``) against the closed forms, and the cost of tracing.

    python benchmarks/traced_agreement.py --out benchmarks/results/traced_agreement.json [--workers 2]

1. NB201 kernel counts: for every one of the 15,625 cells, the cell module (``InferCell``, 16 channels,
   a 1 x 16 x 32 x 32 input) built from its canonical cell is traced; its kernel counts must equal the
   closed form's (``cell_features.op_counts`` over ``computational.KERNEL_TYPES``).
2. NB201 deduplication: the cell module built from each cell as given (not canonicalised) is traced and
   hashed (``graph_hash``) at several Weisfeiler-Lehman iteration counts; the hash classes are compared
   with the closed-form canonical classes (8,765): a hash class holding two canonical classes is a merge
   (forbidden), a canonical class split over two hashes a split.
3. NB101 kernel counts: every cell of at most 5 vertices (2,532), as ``build_nb101_network`` builds its
   cells at the default 128-channel stem: a first-stack cell (128 -> 128 channels, 32 x 32) and the first
   cell of the second stack (128 -> 256, 16 x 16). Traced counts must equal ``nb101_graph.kernel_counts``,
   the closed form's ``proj1x1`` being a traced ``conv1x1`` (its truncations are slices, not kernels).
4. Whole NB201 networks (``build_network(ops, 10, 16, 5)``) for a seeded sample of cells as given: seconds
   to trace, and their kernel counts against the fixed part plus 15 cells of the closed form.

Times are per architecture, one torch thread per worker process: wall seconds (``perf_counter``) and the
worker's CPU seconds (``process_time``, which other load on the machine does not inflate).
"""
from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from provenance import provenance

ITERATIONS = (1, 2, 3, 4, 5, 10)
NB101_CELLS = {"stack1": (128, 128, 32), "stack2_first": (128, 256, 16)}  # c_in, c_out, side
NB101_TYPES = ("conv3x3", "conv1x1", "batchnorm", "relu", "maxpool", "add", "concat")
CHUNK = 400


def _start() -> None:
    import torch

    torch.set_num_threads(1)


def _timed(fn, *args):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn(*args)
    return out, time.perf_counter() - wall, time.process_time() - cpu


def nb201_chunk(indices: list[int]) -> dict:
    """Traced counts of each canonical cell's module; hashes of each as-given cell's module; seconds."""
    from cbred_ray.graphs.traced import graph_hash, kernel_counts, kernel_types_of, trace_graph
    from cbred_ray.spaces.cell.graph import KERNEL_TYPES
    from cbred_ray.spaces.cell.nb201 import SPACE
    from cbred_ray.spaces.cell.network import InferCell

    _start()
    cells = SPACE.cells_of(np.asarray(indices))
    canonical = SPACE.canonical_cells(cells)
    out = {"counts": [], "unexpected": [], "hashes": defaultdict(list), "trace": [0.0, 0.0], "hash": [0.0, 0.0]}
    for cell, canon in zip(cells, canonical):
        graph = trace_graph(InferCell(SPACE.op_names(canon), 16), (1, 16, 32, 32))
        extra = sorted(set(kernel_types_of(graph)) - set(KERNEL_TYPES))
        out["unexpected"].append(extra)
        out["counts"].append([] if extra else kernel_counts(graph, KERNEL_TYPES).tolist())
        graph, wall, cpu = _timed(trace_graph, InferCell(SPACE.op_names(cell), 16), (1, 16, 32, 32))
        out["trace"][0] += wall
        out["trace"][1] += cpu
        for iterations in ITERATIONS:
            digest, wall, cpu = _timed(graph_hash, graph, iterations)
            out["hashes"][iterations].append(digest)
            if iterations == ITERATIONS[-1]:
                out["hash"][0] += wall
                out["hash"][1] += cpu
    return out


def nb101_chunk(task: tuple[list[int], str]) -> dict:
    """Traced counts (NB101_TYPES) of the cell module of each cell; seconds."""
    import torch

    from cbred_ray.graphs.traced import kernel_counts, kernel_types_of, trace_graph
    from cbred_ray.spaces.nb101 import nb101_space
    from cbred_ray.spaces.nb101.network import NB101Cell

    _start()
    indices, which = task
    c_in, c_out, side = NB101_CELLS[which]
    space = nb101_space(5)
    out = {"counts": [], "unexpected": [], "trace": [0.0, 0.0]}
    for index in indices:
        spec = space.spec(int(index))
        torch.manual_seed(0)
        cell = NB101Cell(spec.array(), spec.ops, c_in, c_out)
        graph, wall, cpu = _timed(trace_graph, cell, (1, c_in, side, side))
        out["trace"][0] += wall
        out["trace"][1] += cpu
        extra = sorted(set(kernel_types_of(graph)) - set(NB101_TYPES))
        out["unexpected"].append(extra)
        out["counts"].append([] if extra else kernel_counts(graph, NB101_TYPES).tolist())
    return out


def network_chunk(indices: list[int]) -> dict:
    """Whole NB201 networks of cells as given: traced kernel counts and seconds of ``trace_graph`` and
    ``network_summary``."""
    import torch

    from cbred_ray.graphs.traced import kernel_types_of, network_summary, trace_graph
    from cbred_ray.spaces.cell.nb201 import SPACE
    from cbred_ray.spaces.cell.network import build_network

    _start()
    out = {"counts": [], "trace": [0.0, 0.0], "summary": [0.0, 0.0]}
    for index in indices:
        torch.manual_seed(0)
        net = build_network(SPACE.op_names(SPACE.cells_of(np.asarray([index]))[0]), 10, 16, 5)
        graph, wall, cpu = _timed(trace_graph, net)
        out["trace"][0] += wall
        out["trace"][1] += cpu
        _, wall, cpu = _timed(network_summary, net)
        out["summary"][0] += wall
        out["summary"][1] += cpu
        kinds = [graph.nodes[k]["kind"] for k in graph if graph.nodes[k]["partition"] == "kernel"]
        out["counts"].append({t: kinds.count(t) for t in kernel_types_of(graph)})
    return out


def _chunks(indices: np.ndarray, size: int = CHUNK) -> list[list[int]]:
    return [indices[i:i + size].tolist() for i in range(0, len(indices), size)]


def _per_arch(parts: list[dict], key: str, count: int) -> dict:
    wall = sum(p[key][0] for p in parts)
    cpu = sum(p[key][1] for p in parts)
    return {"wall_seconds": round(wall / count, 6), "cpu_seconds": round(cpu / count, 6), "architectures": count}


def check_nb201(pool: ProcessPoolExecutor) -> tuple[dict, dict]:
    from cbred_ray.spaces.cell.features import op_counts
    from cbred_ray.spaces.cell.graph import KERNEL_TYPES
    from cbred_ray.spaces.cell.nb201 import SPACE

    indices = np.arange(SPACE.size)
    started = time.perf_counter()
    parts = list(pool.map(nb201_chunk, _chunks(indices)))
    wall = time.perf_counter() - started
    closed = op_counts(SPACE, SPACE.canonical_cells(SPACE.cells_of(indices)))
    traced = [c for p in parts for c in p["counts"]]
    unexpected = [u for p in parts for u in p["unexpected"]]
    mismatches = [{"arch": SPACE.format_cell(SPACE.cells_of(np.asarray([i]))[0]), "traced": traced[i],
                   "closed_form": closed[i].tolist(), "unexpected_types": unexpected[i]}
                  for i in range(len(indices)) if unexpected[i] or traced[i] != closed[i].tolist()]
    counts = {"cells": int(len(indices)), "kernel_types": list(KERNEL_TYPES), "agree": int(len(indices) - len(mismatches)),
              "mismatches": mismatches[:50]}
    canonical = SPACE.canonical_indices(indices)
    dedup = {"canonical_classes": int(len(np.unique(canonical))), "by_iterations": {}}
    for iterations in ITERATIONS:
        hashes = [h for p in parts for h in p["hashes"][iterations]]
        dedup["by_iterations"][str(iterations)] = _compare_classes(SPACE, hashes, canonical)
    timings = {"nb201_cell_trace": _per_arch(parts, "trace", len(indices)),
               f"nb201_cell_hash_{ITERATIONS[-1]}_iterations": _per_arch(parts, "hash", len(indices)),
               "nb201_check_wall_seconds": round(wall, 1)}
    return {"counts": counts, "deduplication": dedup}, timings


def _compare_classes(space, hashes: list[str], canonical: np.ndarray) -> dict:
    """Hash classes against canonical classes: merges (one hash, several canonical classes) and splits."""
    by_hash, by_canonical = defaultdict(set), defaultdict(set)
    for index, (digest, canon) in enumerate(zip(hashes, canonical.tolist())):
        by_hash[digest].add(canon)
        by_canonical[canon].add(digest)
    merges = [sorted(c) for c in by_hash.values() if len(c) > 1]
    splits = [c for c, h in by_canonical.items() if len(h) > 1]

    def arch(index: int) -> str:
        return space.format_cell(space.cells_of(np.asarray([index]))[0])

    return {"hash_classes": len(by_hash), "merges": len(merges), "splits": len(splits),
            "merged_examples": [[arch(c) for c in group] for group in merges[:10]],
            "split_examples": [arch(c) for c in splits[:10]]}


def check_nb101(pool: ProcessPoolExecutor) -> tuple[dict, dict]:
    from cbred_ray.spaces.nb101 import graph as nb101_graph
    from cbred_ray.spaces.nb101 import nb101_space

    space = nb101_space(5)
    indices = np.arange(space.size)
    closed = nb101_graph.kernel_counts(*space.decoded(indices))
    k = {name: closed[:, i] for i, name in enumerate(nb101_graph.KERNEL_TYPES)}
    expected = np.stack([k["conv3x3"], k["conv1x1"] + k["proj1x1"], k["batchnorm"], k["relu"], k["maxpool"],
                         k["add"], k["concat"]], axis=1)
    result, timings = {}, {}
    for which, (c_in, c_out, side) in NB101_CELLS.items():
        parts = list(pool.map(nb101_chunk, [(c, which) for c in _chunks(indices)]))
        traced = [c for p in parts for c in p["counts"]]
        unexpected = [u for p in parts for u in p["unexpected"]]
        mismatches = [{"hash": str(space.hashes[i]), "traced": traced[i], "closed_form": expected[i].tolist(),
                       "unexpected_types": unexpected[i]}
                      for i in range(len(indices)) if unexpected[i] or traced[i] != expected[i].tolist()]
        result[which] = {"c_in": c_in, "c_out": c_out, "input": [1, c_in, side, side], "cells": int(len(indices)),
                         "agree": int(len(indices) - len(mismatches)), "mismatches": mismatches[:50]}
        timings[f"nb101_cell_trace_{which}"] = _per_arch(parts, "trace", len(indices))
    result["kernel_types"] = list(NB101_TYPES)
    result["mapping"] = "traced conv1x1 = closed-form conv1x1 + proj1x1; truncations are slices (aliases)"
    return result, timings


def check_networks(pool: ProcessPoolExecutor, sample: int, seed: int) -> tuple[dict, dict]:
    """Whole networks: traced kernels = a fixed part + 15 x the closed form's canonical-cell kernels."""
    from cbred_ray.spaces.cell.features import op_counts
    from cbred_ray.spaces.cell.graph import KERNEL_TYPES
    from cbred_ray.spaces.cell.nb201 import SPACE

    reference = int(SPACE.indices_of(np.asarray([[1] * SPACE.num_edges]))[0])  # all skip_connect
    picked = np.random.default_rng(seed).choice(SPACE.size, sample, replace=False)
    indices = np.concatenate([[reference], picked])
    parts = list(pool.map(network_chunk, _chunks(indices, max(1, len(indices) // 2 + 1))))
    counts = [c for p in parts for c in p["counts"]]
    cells = 15
    closed = op_counts(SPACE, SPACE.canonical_cells(SPACE.cells_of(indices)))
    fixed = dict(counts[0])
    for t, n in zip(KERNEL_TYPES, closed[0]):
        fixed[t] = fixed.get(t, 0) - cells * int(n)
    live = SPACE.live_edges(SPACE.cells_of(indices)).any(axis=1)
    agree, disconnected, mismatches = 0, 0, []
    for i in range(1, len(indices)):
        expected = {t: n for t, n in fixed.items() if n}
        for t, n in zip(KERNEL_TYPES, closed[i]):
            expected[t] = expected.get(t, 0) + cells * int(n)
        expected = {t: n for t, n in expected.items() if n}
        if not live[i]:  # the cell's output is constant, so is the network's: nothing of it is live
            disconnected += 1
            expected = {}
        if counts[i] == expected:
            agree += 1
        else:
            mismatches.append({"arch": SPACE.format_cell(SPACE.cells_of(indices[i:i + 1])[0]), "traced": counts[i],
                               "expected": expected})
    result = {"networks": int(sample), "seed": seed, "fixed_part": {t: n for t, n in fixed.items() if n},
              "agree": agree, "disconnected_cells": disconnected, "mismatches": mismatches[:20]}
    timings = {"nb201_network_trace": _per_arch(parts, "trace", len(indices)),
               "nb201_network_summary": _per_arch(parts, "summary", len(indices))}
    return result, timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/traced_agreement.json"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--networks", type=int, default=40, help="whole NB201 networks to trace (seeded sample)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    import torch

    from cbred_ray.graphs.traced import HASH_ITERATIONS

    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        nb201, t201 = check_nb201(pool)
        nb101, t101 = check_nb101(pool)
        networks, tnet = check_networks(pool, args.networks, args.seed)
    out = {
        "command": f"python benchmarks/traced_agreement.py --out {args.out} --workers {args.workers} "
                   f"--networks {args.networks} --seed {args.seed}",
        **provenance(torch=torch.__version__, torch_threads_per_worker=1, workers=args.workers),
        "hash_iterations_default": HASH_ITERATIONS,
        "nb201": nb201, "nb101": nb101, "nb201_networks": networks,
        "seconds_per_architecture": {**t201, **t101, **tnet},
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps({k: out[k] for k in ("hash_iterations_default", "seconds_per_architecture")}, indent=1))
    print("nb201 counts agree", nb201["counts"]["agree"], "classes",
          {k: (v["hash_classes"], v["merges"], v["splits"]) for k, v in nb201["deduplication"]["by_iterations"].items()})
    print("nb101", {k: v["agree"] for k, v in nb101.items() if isinstance(v, dict)}, "networks", networks["agree"])


if __name__ == "__main__":
    main()
