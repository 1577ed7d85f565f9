"""Entrypoint for ``ray job submit``: run one reduction from a config into a store.

    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python jobs/reduce.py --config configs/nb201_cifar100.yaml --out /shared/stores/nb201

Inside a submitted job RAY_ADDRESS points at the cluster, so the pipeline joins
it instead of starting an embedded Ray. The store must be on storage that every
node can write (a shared filesystem), since workers write their shards directly.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cbred_ray.cli import main  # noqa: E402

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    sys.exit(main(["run", args.config, "--out", args.out, *(["--quiet"] if args.quiet else [])]))
