"""What drawing from a region costs: candidates examined and seconds per member, at the shares runs keep.

    python benchmarks/region_sampling.py --out benchmarks/results/region_sampling.json

A run on a sample of the DARTS space keeps a region: one cluster of K (the shipped configs' K of 16 and 64)
or a union of clusters up to 10 % of the space. ``cbred sample`` draws its members by rejection
(:meth:`cbred_ray.select.region.Region.sample`): seeded uniform candidates of the whole space, examined in
a random order, the members kept. Here the regions come from k-means on the kernel counts of a seeded
sample of 200,000 DARTS genotypes (no statistics: which clusters are kept does not change what a draw costs,
only the share does), kept by share: the smallest and the median cluster of each K, and the clusters in
order of size until they hold 10 %. For each, 1,000 members are drawn with 3 seeds; recorded: the share
(an independent sample of 100,000), candidates examined per member against 1 / share, and seconds per
member on this machine (features and costs in closed form, one process).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from provenance import provenance

from cbred_ray.cluster.kmeans import kmeans
from cbred_ray.select.region import fit_region
from cbred_ray.spaces import build_space

SAMPLE, DRAWN, SEEDS, KS = 200_000, 1_000, 3, (16, 64)


def regions(space, k: int) -> dict[str, tuple]:
    """The regions measured for one K: name -> (kept clusters, region)."""
    index = space.sample(SAMPLE, seed=0)
    features = space.features(space.canonical_indices(index), "op_counts")
    fitted = kmeans(features, k, seed=0, n_init=3)
    sizes = np.bincount(fitted.labels, minlength=k)
    order = np.argsort(sizes, kind="stable")
    union = list(order[::-1][: int(np.searchsorted(np.cumsum(sizes[order[::-1]]), 0.10 * SAMPLE)) + 1])
    chosen = {"smallest cluster": [int(order[0])], "median cluster": [int(order[k // 2])],
              "union to 10 %": [int(c) for c in union]}
    return {name: (kept, fit_region(features, fitted.labels, tuple(kept), "op_counts", 10, {}, fitted.centers)[0])
            for name, kept in chosen.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    space = build_space("darts")
    rows = []
    for k in KS:
        for name, (kept, region) in regions(space, k).items():
            share = region.estimate(space, 100_000, seed=99)["share"]
            for seed in range(SEEDS):
                started = time.perf_counter()
                drawn, examined = region.sample(space, DRAWN, seed)
                seconds = time.perf_counter() - started
                assert region.contains(space, drawn).all() and len(np.unique(drawn)) == DRAWN
                rows.append({"k": k, "region": name, "clusters": len(kept), "share": share, "seed": seed,
                             "examined_per_member": examined / DRAWN, "one_over_share": 1 / share,
                             "ms_per_member": 1000 * seconds / DRAWN})
                print(f"K {k} {name}: share {share:.4f}, {examined / DRAWN:.1f} candidates and "
                      f"{1000 * seconds / DRAWN:.2f} ms per member", file=sys.stderr)
    out = {"command": f"python benchmarks/region_sampling.py --out {args.out}", **provenance(),
           "setup": {"space": "darts", "clustered_sample": SAMPLE, "features": "op_counts", "drawn": DRAWN,
                     "seeds": SEEDS, "ks": KS},
           "rows": [{key: round(value, 4) if isinstance(value, float) else value for key, value in row.items()}
                    for row in rows]}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
