"""Score a seeded random sample of NB201 architectures with every statistic, into a store.

    python benchmarks/score_sample.py --n 400 --seed 0 --out STORE [--source SOURCE] [--no-augment] \
        [--stats ntk_cond --options '{"ntk_cond": {"batch_size": 72}}'] [--first 150] \
        [--num-classes 10 --source cifar10-sample20] [--actors 2] [--run-seed 1]
    python benchmarks/faithfulness.py --stats STORE/stats --benchmark TABLE --out RESULT.json

For comparing inputs on the same architectures before (or besides) scoring the whole
space: all eight statistics in their published setups (each reads its own number of
images of the batch: NASWOT 128, the NTK 32). SOURCE is ``cifar100-sample25`` (the
built-in 25 real images, the default), ``synthetic`` (a seeded standard-normal batch),
an .npz of images or a cifar-100-python folder. ``--no-augment`` keeps a real sample as
it is (a batch of 25 images for every statistic) instead of filling the batch with
random crops and flips.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from cbred_ray.config import DataConfig, ResourcesConfig, StatsConfig
from cbred_ray.pipeline.run import run_statistics
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
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cells = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, args.n, replace=False))[: args.first]
    source = None if args.source == "synthetic" else args.source
    cfg = StatsConfig(names=tuple(args.stats.split(",")), options=json.loads(args.options), shard_size=10,
                      num_classes=args.num_classes,
                      data={"source": source, "batch_size": args.batch_size, "augment": not args.no_augment})
    run_statistics([nb201.format_cell(c) for c in cells], cfg, args.out,
                   seed=args.seed if args.run_seed is None else args.run_seed,
                   resources=ResourcesConfig(num_actors=args.actors))


if __name__ == "__main__":
    main()
