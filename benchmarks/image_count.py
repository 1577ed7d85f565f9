"""How a statistic's correlation moves with the number of distinct real images behind its batch.

    python benchmarks/image_count.py --source cifar10-sample20 --counts 5,10,20 --run-seeds 0,1,2 \\
        --n 1000 --first 200 --seed 0 --stats grasp,plain,fisher,grad_norm,snip,zico --num-classes 10 --work WORK \\
        --benchmark ../shared/nb201/nb201_test_accuracy.parquet --dataset cifar10 \\
        --out benchmarks/results/image_count_cifar10.json

The references draw their batch from the training set (64 images for GraSP in zero-cost-nas); ours is built
from a handful of real images filled up with their crops and flips. For every COUNT, the first COUNT images of
SOURCE (with their labels, normalised as SOURCE's dataset) are written to ``WORK/images-COUNT.npz``, and the
same seeded sample of NB201 architectures (``score_sample.py``'s) is scored from them once per run seed
(``WORK/COUNT-s<SEED>``; a finished store's shards are reused, an unfinished one resumed). Each run's correlation with the dataset's test
accuracy is measured on the published number's measure (``zero_cost_faithfulness.PUBLISHED``), and per count
the runs' mean, standard deviation and range are reported beside the published value, as
``run_seed_spread.py`` does for one count: a correlation that climbs towards the published value as the count
grows says the gap is the images'; a flat one says it is not.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from provenance import provenance  # noqa: E402
from run_seed_spread import spread  # noqa: E402
from zero_cost_faithfulness import compare  # noqa: E402

from cbred_ray.config import DataConfig, ResourcesConfig, StatsConfig  # noqa: E402
from cbred_ray.evaluate.benchmark import load_benchmark  # noqa: E402
from cbred_ray.pipeline.run import run_statistics  # noqa: E402
from cbred_ray.spaces.cell import nb201  # noqa: E402
from cbred_ray.stats.data import read_source  # noqa: E402


def first_images(source: str, count: int, out: Path) -> Path:
    """The first ``count`` images of ``source`` (a built-in sample or an .npz) with their labels and the name
    of their dataset, as an .npz at ``out``."""
    _, dataset, images, labels = read_source(source)
    if labels is None:
        raise SystemExit(f"--source: {source!r} has no labels")
    if not 1 <= count <= len(images):
        raise SystemExit(f"--counts: {count} is not between 1 and the {len(images)} images of {source!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, images=images[:count].transpose(0, 2, 3, 1), labels=labels[:count], dataset=dataset)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="cifar10-sample20", help="a built-in sample or an .npz with labels")
    parser.add_argument("--counts", default="5,10,20", help="comma-separated numbers of distinct images")
    parser.add_argument("--run-seeds", default="0,1,2", help="comma-separated run seeds (crops, initial weights)")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--first", type=int, default=200, help="score only the first FIRST of the sample")
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    parser.add_argument("--stats", default="grasp", help="comma-separated statistic names")
    parser.add_argument("--num-classes", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=DataConfig().batch_size)
    parser.add_argument("--actors", type=int, default=None, help="statistics actors (default: one per CPU)")
    parser.add_argument("--work", required=True, help="a folder for the image files and the runs' stores")
    parser.add_argument("--benchmark", required=True)
    parser.add_argument("--dataset", default="cifar10", choices=("cifar10", "cifar100"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    seeds = [int(s) for s in args.run_seeds.split(",")]
    work = Path(args.work)
    cells = nb201.cells_of(np.random.default_rng(args.seed).choice(nb201.SPACE_SIZE, args.n, replace=False))
    archs = [nb201.format_cell(c) for c in cells[: args.first]]
    table = load_benchmark(args.benchmark, nb201.SPACE)
    images = {count: first_images(args.source, count, work / f"images-{count}.npz") for count in counts}
    per_count = {}
    for count in counts:
        runs = []
        for seed in seeds:
            store = work / f"{count}-s{seed}"
            print(f"{count} images, run seed {seed}: {store}", flush=True)
            cfg = StatsConfig(names=tuple(args.stats.split(",")), shard_size=10, num_classes=args.num_classes,
                              data={"source": str(images[count]), "batch_size": args.batch_size})
            run_statistics(archs, cfg, store, seed=seed, resources=ResourcesConfig(num_actors=args.actors))
            runs.append(compare(pd.read_parquet(store / "stats"), table, args.dataset, 0, 0, "nb201"))
        per_count[count] = spread(runs)
    result = {
        "command": f"python benchmarks/image_count.py --source {args.source} --counts {args.counts} "
                   f"--run-seeds {args.run_seeds} --n {args.n} --first {args.first} --seed {args.seed} "
                   f"--stats {args.stats} --num-classes {args.num_classes} --batch-size {args.batch_size} "
                   f"--work WORK --benchmark {args.benchmark} --dataset {args.dataset} --out {args.out}",
        **provenance(), "space": "nb201", "dataset": args.dataset, "n_archs": len(archs), "run_seeds": seeds,
        "statistics": {name: {str(count): per_count[count][name] for count in counts}
                       for name in per_count[counts[0]]},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    for name, by_count in result["statistics"].items():
        for count, entry in by_count.items():
            print(f"{name:12s} {count:>3s} images: {entry['measure']:10s} runs {entry['per_run']} "
                  f"mean {entry['mean']:+.3f} sd {entry['sd']}"
                  + (f" published {entry['published']:+.3f} gap {entry['gap_of_mean']:+.3f}"
                     if "published" in entry else ""))


if __name__ == "__main__":
    main()
