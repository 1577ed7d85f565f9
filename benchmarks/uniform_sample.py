"""A seeded uniform sample of a config's space, one identifier per line (for ``cbred stats --archs``).

    python benchmarks/uniform_sample.py --config configs/nb101_cifar10.yaml --n 4236 --seed 0 --out SAMPLE.txt

The Quantiled baseline of a run on a statistics budget scores a uniform sample of as many
architectures as the run measured (``cbred report STORE --sample-stats``); this draws it, by index,
without reading anything but the space. ``--part K/N`` writes only the K-th of N contiguous parts of
that sample (K from 1), so that a long scoring can be done, exported and kept part by part; every
architecture's statistics depend only on the run's seed, not on which part it was scored in.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cbred_ray.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--part", default="1/1", metavar="K/N", help="only the K-th of N contiguous parts")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    k, _, n = args.part.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        parser.error(f"--part {args.part!r}: expected K/N with 1 <= K <= N")
    space = load_config(args.config).space.space()
    ids = space.format_ids(space.sample(args.n, args.seed))
    bounds = np.linspace(0, len(ids), int(n) + 1).round().astype(int)
    Path(args.out).write_text("\n".join(ids[bounds[int(k) - 1]:bounds[int(k)]]) + "\n")


if __name__ == "__main__":
    main()
