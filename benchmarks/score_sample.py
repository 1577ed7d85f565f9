"""Score a seeded random sample of NB201 architectures with every statistic, into a store.

    python benchmarks/score_sample.py --n 300 --seed 0 --out STORE [--source IMAGES.npz]
    python benchmarks/faithfulness.py --stats STORE/stats --benchmark TABLE --out RESULT.json

A preview of faithfulness before scoring the whole space: all eight statistics in
their published setups, a batch of 64 (the NTK on its first 32 images).
"""
from __future__ import annotations

import argparse

import numpy as np

from cbred_ray.config import StatsConfig
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.spaces import nb201
from cbred_ray.stats.registry import STATISTICS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", default=None, help=".npz of images or a cifar-100-python folder")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--ntk-batch-size", type=int, default=32)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cells = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, args.n, replace=False))
    cfg = StatsConfig(names=tuple(STATISTICS), data={"source": args.source, "batch_size": args.batch_size},
                      options={"ntk_cond": {"batch_size": args.ntk_batch_size}}, shard_size=10)
    run_statistics([nb201.format_cell(c) for c in cells], cfg, args.out, seed=args.seed)


if __name__ == "__main__":
    main()
