"""Statistics of a seeded NB201 sample computed on each architecture's own cell, dead branches included.

    python benchmarks/uncanonical_stats.py --n 1000 --seed 0 --stats l2_norm,meco,zen,az_complexity \\
        --source cifar10-sample20 --num-classes 10 --out SAMPLE.parquet
    python benchmarks/zero_cost_faithfulness.py --stats SAMPLE.parquet --dataset cifar10 ...

The engine scores a cell's canonical form, in which branches that cannot reach the output are cut
(``cbred_ray.spaces.cell.canonical``); the references build the cell as written, so a branch off every path to
the output still has weights (l2_norm), FLOPs (the benchmark API's, which AZ-NAS's complexity reads),
modules whose outputs MeCo's hooks read, and BatchNorm layers whose running variance Zen's correction sums.
This computes the statistics on the written cell instead (in-process, one thread, the same seed, batch
and architectures as ``score_sample.py --n N --seed S``), to measure how much of a difference from a
published correlation that choice makes.
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import torch

from cbred_ray.spaces.cell import nb201
from cbred_ray.stats import compute_stats, load_batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--stats", required=True)
    parser.add_argument("--source", default="cifar10-sample20")
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.stats.split(",")
    rng = np.random.default_rng(args.seed)
    cells = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, args.n, replace=False))  # score_sample.py's sample
    batch, labels, _ = load_batch(args.source, args.batch_size, args.seed)
    rows = []
    for i, cell in enumerate(cells):
        values = compute_stats(nb201.op_names(cell), names, batch, args.seed, num_classes=args.num_classes,
                               labels=labels)
        rows.append({"arch_str": nb201.format_cell(cell), **{n: values[n][0] for n in names}})
        if (i + 1) % 100 == 0:
            print(f"{i + 1} of {len(cells)}", flush=True)
    pd.DataFrame(rows).to_parquet(args.out, index=False)


if __name__ == "__main__":
    main()
