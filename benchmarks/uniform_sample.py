"""A seeded uniform sample of a config's space, one identifier per line (for ``cbred stats --archs``).

    python benchmarks/uniform_sample.py --config configs/nb101_cifar10.yaml --n 4236 --seed 0 --out SAMPLE.txt

The Quantiled baseline of a run on a statistics budget scores a uniform sample of as many
architectures as the run measured (``cbred report STORE --sample-stats``); this draws it, by index,
without reading anything but the space.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from cbred_ray.config import load_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    space = load_config(args.config).space.space()
    Path(args.out).write_text("\n".join(space.format_ids(space.sample(args.n, args.seed))) + "\n")


if __name__ == "__main__":
    main()
