"""NB101 parameter counts: closed form and built network against the benchmark's table; CPU cost per width.

    python benchmarks/nb101_params.py --out benchmarks/results/nb101_params.json

1. ``nb101_costs`` for all 423,624 cells of ``../shared/nb101/nb101_test_accuracy.parquet``: its
   parameter counts must equal the table's ``trainable_parameters`` (the benchmark's own count).
2. The torch network itself: ``build_nb101_network`` on ``torch.device("meta")`` (no weights are
   allocated or initialised) and ``cost.params`` of it, for the cells, over ``--workers`` processes.
   A seeded batch of ``--timing-cells`` cells is timed first; if that projects all cells under
   ``--budget-minutes`` on ``--workers`` dedicated cores (from the workers' CPU seconds, so that other
   load on the machine does not count), every cell is built, else a seeded sample of ``--sample``
   cells plus every cell with at most 5 vertices (the result says which). With ``--work DIR`` every
   cell is built, whatever the projection, and the run resumes: each finished chunk is appended to
   ``DIR/chunks.jsonl``, and a rerun with the same ``DIR`` builds only the chunks not in it.
3. ``forward_seconds``: CPU seconds (process time, 1 torch thread) of one forward + backward of a
   batch of 64 seeded CIFAR-sized images, for 5 seeded 7-vertex cells at each stem width; the first
   call (which includes oneDNN's one-off primitive creation for new shapes) and a second, warm call.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from provenance import provenance

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO.parent / "shared" / "nb101" / "nb101_test_accuracy.parquet"
TABLE_NAME = "../shared/nb101/nb101_test_accuracy.parquet"
WIDTHS = (128, 64, 32, 16, 8)


def built_params(cells: list[tuple[int, list[int], list[str]]]) -> tuple[list[tuple[int, int]], float]:
    """((position, parameter count) of the network of each cell, built on the meta device; process seconds)."""
    import torch

    from cbred_ray.spaces.nb101.network import build_nb101_network
    from cbred_ray.stats.cost import params

    torch.set_num_threads(1)
    started = time.process_time()
    out = []
    for position, matrix, ops in cells:
        with torch.device("meta"):
            net = build_nb101_network(matrix, ops)
        out.append((position, int(params(net))))
    return out, time.process_time() - started


def check_built(pool: ProcessPoolExecutor, table, positions: np.ndarray, chunk: int) -> tuple[int, list, float, float]:
    """Build the networks of ``positions`` in the pool; (cells checked, mismatches, wall and worker CPU seconds)."""
    adjacency, operations = table["module_adjacency"].to_numpy(), table["module_operations"].to_numpy()
    expected = table["trainable_parameters"].to_numpy()
    started = time.perf_counter()
    tasks = [[(int(p), adjacency[p].tolist(), operations[p].tolist()) for p in positions[i:i + chunk]]
             for i in range(0, len(positions), chunk)]
    checked, mismatches, cpu = 0, [], 0.0
    for done, seconds in pool.map(built_params, tasks):
        cpu += seconds
        for position, count in done:
            checked += 1
            if count != expected[position]:
                mismatches.append({"hash": table["hash"].iat[position], "table": int(expected[position]),
                                   "built": count})
    return checked, mismatches, time.perf_counter() - started, cpu


def check_all_resumable(pool: ProcessPoolExecutor, table, order: np.ndarray, chunk: int,
                        work: Path) -> tuple[int, list, float, float]:
    """Build every cell, in ``order``, chunk by chunk, appending each finished chunk to ``work/chunks.jsonl``
    and skipping the chunks already there; (cells checked, mismatches, wall seconds of this run, worker CPU
    seconds of every run)."""
    from concurrent.futures import as_completed

    work.mkdir(parents=True, exist_ok=True)
    log = work / "chunks.jsonl"
    done = {}
    if log.is_file():
        for line in log.read_text().splitlines():
            if line.strip():
                record = json.loads(line)
                done[record["chunk"]] = record
    adjacency, operations = table["module_adjacency"].to_numpy(), table["module_operations"].to_numpy()
    expected = table["trainable_parameters"].to_numpy()
    chunks = [order[i:i + chunk] for i in range(0, len(order), chunk)]
    started = time.perf_counter()
    futures = {pool.submit(built_params, [(int(p), adjacency[p].tolist(), operations[p].tolist()) for p in part]): i
               for i, part in enumerate(chunks) if i not in done}
    print(json.dumps({"chunks": len(chunks), "already_done": len(done), "to_build": len(futures)}), file=sys.stderr)
    with log.open("a") as out:
        for finished, future in enumerate(as_completed(futures), start=1):
            results, seconds = future.result()
            wrong = [{"hash": table["hash"].iat[p], "table": int(expected[p]), "built": c}
                     for p, c in results if c != expected[p]]
            record = {"chunk": futures[future], "checked": len(results), "mismatches": wrong, "cpu_seconds": seconds}
            out.write(json.dumps(record) + "\n")
            out.flush()
            done[record["chunk"]] = record
            if finished % 100 == 0:
                print(json.dumps({"chunks_done": len(done), "of": len(chunks)}), file=sys.stderr, flush=True)
    mismatches = [m for r in done.values() for m in r["mismatches"]]
    return (sum(r["checked"] for r in done.values()), mismatches, time.perf_counter() - started,
            sum(r["cpu_seconds"] for r in done.values()))


def built_every_cell(pool: ProcessPoolExecutor, table, order: np.ndarray, args) -> dict:
    """The built-network record of a resumable run over every cell (exits, to be rerun, until all are built)."""
    checked, mismatches, wall, cpu = check_all_resumable(pool, table, order, args.chunk, Path(args.work))
    if checked < len(table):
        sys.exit(f"{checked} of {len(table)} cells built so far: run again with the same --work to go on")
    return {"device": "meta", "workers": args.workers, "mode": "all",
            "note": "every cell built (resumable run: chunks of --chunk cells in a seeded order, each recorded "
                    "as it finished)",
            "cells_checked": int(checked),
            "cells_checked_by_vertices": {str(k): int(v) for k, v in
                                          table["num_vertices"].value_counts().sort_index().items()},
            "mismatches": len(mismatches), "first_mismatches": mismatches[:10],
            "wall_seconds_last_run": round(wall, 1), "worker_cpu_seconds": round(cpu, 1),
            "cpu_seconds_per_cell": round(cpu / checked, 4)}


def built_within_budget(pool: ProcessPoolExecutor, table, order: np.ndarray, args) -> dict:
    """The built-network record: a timed batch of cells, then every cell if that projects within the
    budget, else a seeded sample plus every cell of at most 5 vertices."""
    timing = order[:args.timing_cells]
    timed, timing_mismatches, timing_wall, timing_cpu = check_built(pool, table, timing, args.chunk)
    # on dedicated cores: the workers' CPU seconds shared by the workers (the machine may be busy)
    projected_minutes = timing_cpu / args.workers * len(table) / len(timing) / 60
    projected_wall_minutes = timing_wall * len(table) / len(timing) / 60
    everything = projected_minutes <= args.budget_minutes
    if everything:
        rest = order[args.timing_cells:]
    else:
        small = np.flatnonzero(table["num_vertices"].to_numpy() <= 5)
        rest = np.setdiff1d(np.union1d(order[:args.sample], small), timing)
    print(json.dumps({"timing_wall_seconds": round(timing_wall, 1), "timing_cpu_seconds": round(timing_cpu, 1),
                      "projected_all_minutes": round(projected_minutes, 1),
                      "building": "all" if everything else len(rest) + timed}), file=sys.stderr)
    rest_checked, rest_mismatches, rest_wall, rest_cpu = check_built(pool, table, rest, args.chunk)
    checked_positions = np.concatenate([timing, rest])
    by_vertices = table["num_vertices"].iloc[checked_positions].value_counts().sort_index()
    return {
        "device": "meta", "workers": args.workers, "timing_cells": int(timed),
        "timing_wall_seconds": round(timing_wall, 1), "timing_worker_cpu_seconds": round(timing_cpu, 1),
        "projected_all_minutes": round(projected_minutes, 1),
        "projected_all_minutes_basis": "worker CPU seconds of the timing cells / workers, scaled to all cells",
        "projected_all_wall_minutes_at_this_load": round(projected_wall_minutes, 1),
        "budget_minutes": args.budget_minutes,
        "mode": "all" if everything else "sample",
        "note": ("every cell built" if everything else
                 f"all cells projected over the {args.budget_minutes:g}-minute budget on {args.workers} processes: a "
                 f"seeded sample of {args.sample} cells (seed {args.seed}, including the timing cells) plus every "
                 f"cell with at most 5 vertices"),
        "cells_checked": int(timed + rest_checked),
        "cells_checked_by_vertices": {str(k): int(v) for k, v in by_vertices.items()},
        "mismatches": len(timing_mismatches) + len(rest_mismatches),
        "first_mismatches": (timing_mismatches + rest_mismatches)[:10],
        "wall_seconds": round(timing_wall + rest_wall, 1),
        "worker_cpu_seconds": round(timing_cpu + rest_cpu, 1),
        "cpu_seconds_per_cell": round((timing_cpu + rest_cpu) / (timed + rest_checked), 4),
    }


def forward_seconds(table, seed: int, cells: int, batch: int) -> dict:
    """Process seconds of forward + backward of one batch at each width, first and warm call, 1 thread."""
    import torch

    from cbred_ray.spaces.nb101.network import build_nb101_network
    from cbred_ray.spaces.nb101.plan import nb101_costs

    torch.set_num_threads(1)
    seven = np.flatnonzero(table["num_vertices"].to_numpy() == 7)
    picks = np.sort(np.random.default_rng(seed).choice(seven, size=cells, replace=False))
    rows = table.iloc[picks]
    x = torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    x = x.contiguous(memory_format=torch.channels_last)
    result = {"batch": batch, "torch_threads": 1, "clock": "time.process_time", "seed": seed,
              "cells": rows["hash"].tolist(), "widths": {}}
    for width in WIDTHS:
        first, warm = [], []
        for row in rows.itertuples():
            torch.manual_seed(0)
            net = build_nb101_network(row.module_adjacency, row.module_operations, stem_channels=width)
            for times in (first, warm):
                net.zero_grad(set_to_none=True)
                started = time.process_time()
                net(x).sum().backward()
                times.append(round(time.process_time() - started, 3))
        _, macs = nb101_costs(rows["module_adjacency"], rows["module_operations"], stem_channels=width)
        result["widths"][str(width)] = {
            "first": first, "warm": warm, "mean_first": round(statistics.mean(first), 3),
            "mean_warm": round(statistics.mean(warm), 3), "median_warm": round(statistics.median(warm), 3),
            "mean_macs_per_image": float(macs.mean()),
        }
        print(json.dumps({"width": width, **result["widths"][str(width)]}), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timing-cells", type=int, default=2000)
    parser.add_argument("--budget-minutes", type=float, default=25.0)
    parser.add_argument("--sample", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=250)
    parser.add_argument("--work", default=None, help="build every cell, resumably: finished chunks go to "
                        "WORK/chunks.jsonl")
    args = parser.parse_args()

    import pandas as pd
    import torch

    from cbred_ray.spaces.nb101.plan import nb101_costs

    started_all = time.perf_counter()
    table = pd.read_parquet(TABLE, columns=["hash", "num_vertices", "module_adjacency", "module_operations",
                                            "trainable_parameters"])
    expected = table["trainable_parameters"].to_numpy()

    started = time.perf_counter()
    closed_params, _ = nb101_costs(table["module_adjacency"], table["module_operations"])
    closed_seconds = time.perf_counter() - started
    wrong = np.flatnonzero(closed_params != expected)
    closed = {"cells_checked": len(table), "mismatches": int(wrong.size), "wall_seconds": round(closed_seconds, 2),
              "first_mismatches": table["hash"].iloc[wrong[:10]].tolist(), "threads": "one process, numpy"}
    print(json.dumps({"closed_form": closed}), file=sys.stderr)

    order = np.random.default_rng(args.seed).permutation(len(table))
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
        built = (built_every_cell(pool, table, order, args) if args.work else
                 built_within_budget(pool, table, order, args))
    print(json.dumps({"built_network": built}), file=sys.stderr)

    forward = forward_seconds(table, args.seed, cells=5, batch=64)
    command = f"python benchmarks/nb101_params.py --out {args.out}" + (" --work WORK" if args.work else "")
    defaults = {"workers": 2, "timing_cells": 2000, "budget_minutes": 25.0, "sample": 20_000, "seed": 0, "chunk": 250}
    command += "".join(f" --{k.replace('_', '-')} {getattr(args, k)}" for k, v in defaults.items()
                       if getattr(args, k) != v)
    Path(args.out).write_text(json.dumps({
        "command": command,
        **provenance(torch=torch.__version__),
        "table": TABLE_NAME, "cells": len(table),
        "closed_form": closed,
        "built_network": built,
        "forward_seconds": forward,
        "wall_seconds_total": round(time.perf_counter() - started_all, 1),
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
