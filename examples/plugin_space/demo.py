"""TinyNet without any benchmark: the space, its conformance checks, a small reduction and its selection.

    pip install -e examples/plugin_space
    python examples/plugin_space/demo.py [STORE]     # a minute or two on a laptop: a 64-architecture sample

Nothing here needs an accuracy: the method never reads one (README.md: to measure a selection, supply a table).
"""
from __future__ import annotations

import sys
from pathlib import Path

import cbred_ray
from cbred_ray.spaces.check import check_space

CONFIG = Path(__file__).resolve().parent / "tinynet.yaml"
SMALL = ["space.sample=64", "cluster.k=4", "select.min_cluster_size=4", "select.halving.budget=0.5"]
"""A seeded sample of 64 of the 512 architectures, 4 clusters, statistics for at most 32 of them."""


def main(out: str = "stores/tinynet_demo") -> None:
    space = cbred_ray.build_space("tinynet")  # found through the entry point, like `space: {name: tinynet}`
    print(f"{space.size} architectures: {', '.join(space.format_ids([0, 1, 137, space.size - 1]))}")
    params, macs = space.costs(space.parse_ids(["b3-b3-b3-b3/1.0", "id-id-id-id/0.5"]), num_classes=10)
    print(f"the largest and the smallest: {params.astype(int).tolist()} parameters, {macs.astype(int).tolist()} MACs")

    for result in check_space(space, sample=4, statistics=False):  # raises SpaceCheckFailed naming what fails
        print(f"  check {result.name:<13} {result.detail}")

    result = cbred_ray.reduce(CONFIG, out=out, overrides=SMALL, progress=False)
    print(result.scores.sort_values("score", ascending=False).to_string(index=False))
    kept = result.selection.join(result.clusters[["arch_params", "arch_macs"]], on="arch_index")
    kept = kept.join(result.stats["naswot_v2"], on="arch_index")  # NaN: a member halving did not measure
    print(f"kept cluster {result.cluster}: {len(kept)} of {result.manifest['space']['architectures']} sampled")
    print(kept[[space.id_column, "arch_params", "arch_macs", "naswot_v2"]].head(10).to_string(index=False))


if __name__ == "__main__":
    main(*sys.argv[1:])
