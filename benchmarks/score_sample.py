"""Score a seeded random sample of a space's architectures (NB201 by default) with every statistic, into a store.

    python benchmarks/score_sample.py --n 400 --seed 0 --out STORE [--source SOURCE] [--no-augment] \
        [--stats ntk_cond --options '{"ntk_cond": {"batch_size": 72}}'] [--first 150] \
        [--num-classes 10 --source cifar10-sample20] [--actors 2] [--run-seed 1]
    python benchmarks/score_sample.py --space darts --space-params '{"stats_cells": 5}' --width 8 \
        --ids ../shared/nb301/nb301_cifar10_sample400.parquet --num-classes 10 --source cifar10-sample20 --out STORE
    python benchmarks/faithfulness.py --stats STORE/stats --benchmark TABLE --out RESULT.json

For comparing inputs on the same architectures before (or besides) scoring the whole
space: all eight statistics in their published setups (each reads its own number of
images of the batch: NASWOT 128, the NTK 32). SOURCE is ``cifar100-sample25`` (the
built-in 25 real images, the default), ``synthetic`` (a seeded standard-normal batch),
an .npz of images or a cifar-100-python folder. ``--no-augment`` keeps a real sample as
it is (a batch of 25 images for every statistic) instead of filling the batch with
random crops and flips.

``--space`` scores another registered space (its seeded sample, ``Space.sample``); ``--ids TABLE`` scores
the architectures a table names instead (only its identifier column is read: never an accuracy).
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from cbred_ray.config import DataConfig, ResourcesConfig, StatsConfig
from cbred_ray.pipeline.run import run_statistics
from cbred_ray.spaces import build_space
from cbred_ray.spaces.cell import nb201
from cbred_ray.stats.registry import STATISTICS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed, and the run's unless --run-seed")
    parser.add_argument("--run-seed", type=int, default=None,
                        help="the run's seed (the batch's crops, the networks' initial weights): the same sample "
                             "scored again with another draw of both")
    parser.add_argument("--source", default=DataConfig().source)
    parser.add_argument("--batch-size", type=int, default=DataConfig().batch_size)
    parser.add_argument("--no-augment", action="store_true")
    parser.add_argument("--stats", default=",".join(STATISTICS), help="comma-separated statistic names")
    parser.add_argument("--options", default="{}", help="stats.options as JSON")
    parser.add_argument("--first", type=int, default=None, help="score only the first FIRST of the sample")
    parser.add_argument("--num-classes", type=int, default=StatsConfig().num_classes,
                        help="the network's classes: 100 for CIFAR-100's images, 10 for CIFAR-10's")
    parser.add_argument("--actors", type=int, default=None, help="statistics actors (default: one per CPU)")
    parser.add_argument("--space", default="nb201", help="a registered space's name")
    parser.add_argument("--space-params", default="{}", help="the space's parameters as JSON")
    parser.add_argument("--width", type=int, default=None, help="stats.width: the statistics network's width")
    parser.add_argument("--ids", default=None, help="a Parquet table: score the architectures its identifier "
                        "column names (the whole table, or its first FIRST) instead of a sample")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    space = build_space(args.space, json.loads(args.space_params))
    if args.ids is not None:
        ids = pd.read_parquet(args.ids, columns=[space.id_column])[space.id_column].tolist()
    elif args.space == "nb201":  # the sample every NB201 result of this script was scored on
        rng = np.random.default_rng(args.seed)
        ids = [nb201.format_cell(c) for c in nb201.cells_of(rng.choice(nb201.SPACE_SIZE, args.n, replace=False))]
    else:
        ids = space.format_ids(space.sample(args.n, args.seed))
    source = None if args.source == "synthetic" else args.source
    cfg = StatsConfig(names=tuple(args.stats.split(",")), options=json.loads(args.options), shard_size=10,
                      num_classes=args.num_classes, width=args.width,
                      data={"source": source, "batch_size": args.batch_size, "augment": not args.no_augment})
    run_statistics(ids[: args.first], cfg, args.out, seed=args.seed if args.run_seed is None else args.run_seed,
                   space=space, resources=ResourcesConfig(num_actors=args.actors))


if __name__ == "__main__":
    main()
