"""A reduced space as a rule: which architectures of the whole space belong, for spaces too large to list.

A run on a sample of a space (``space.sample``) chooses among the sampled architectures, but the space it
reduces is the whole one: its answer is a *region*, the architectures that the run's own rule would put in
the kept clusters. The rule, for any architecture of the space:

1. its clustering features (``features``, of its canonical index) are assigned to the nearest centroid
   (Euclidean; ties to the lower cluster id): for k-means, its own centers (its assignment rule); for
   spectral clustering, which has no out-of-sample rule, each cluster's mean feature vector over its sampled
   members (an approximation; ``agreement`` says how often the rule gives the clustering's own label on the
   sample);
2. it belongs when that cluster is kept, and its costs are within the hardware budget (``max_params``,
   ``max_macs``) and at or above a union's cut (``min_params`` or ``min_macs``: the smallest cost the cut
   kept, so ties at the threshold are all in).

A C-BRED (Q + C) cut by statistics is not part of a region: a rule that needs statistics cannot say whether
an architecture belongs without computing them. Sampling draws seeded candidates from the space and keeps the
members (rejection): a member costs 1 / share candidates in expectation, each a closed-form feature and cost
computation (``benchmarks/region_sampling.py`` measures it).
Everything here is a pure function of the space and the region (no Ray, no store).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space

CANDIDATES = 65_536
"""Candidates drawn per round of rejection sampling."""
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Region:
    features: str  # the clustering feature map
    clusters: np.ndarray  # the id of each cluster with sampled members
    centroids: np.ndarray  # (len(clusters), d): their centroids, row by row
    kept: tuple[int, ...]  # the clusters of the reduced space
    num_classes: int  # the classifier the costs are of
    bounds: dict[str, float] = field(default_factory=dict)  # min_params/min_macs/max_params/max_macs

    def assign(self, features: np.ndarray) -> np.ndarray:
        """The nearest centroid of each feature row (ties: the lower cluster id)."""
        rows = np.asarray(features, dtype=np.float64)
        nearest = np.empty(len(rows), dtype=np.int64)
        for start in range(0, len(rows), 4096):  # exact distances, in blocks that bound the memory
            block = rows[start:start + 4096]
            nearest[start:start + 4096] = ((block[:, None, :] - self.centroids[None]) ** 2).sum(axis=2).argmin(axis=1)
        return self.clusters[nearest]

    def contains(self, space: Space, indices: np.ndarray) -> np.ndarray:
        """True for each index of ``space`` inside the region."""
        indices = space.check_indices(indices)
        inside = np.isin(self.assign(space.features(space.canonical_indices(indices), self.features)), self.kept)
        if self.bounds and inside.any():
            params, macs = space.costs(indices, self.num_classes)
            costs = {"params": params, "macs": macs}
            for name, limit in self.bounds.items():
                side, cost = name.split("_")
                inside &= costs[cost] >= limit if side == "min" else costs[cost] <= limit
        return inside

    def sample(self, space: Space, n: int, seed: int, candidates: int = CANDIDATES) -> tuple[np.ndarray, int]:
        """``n`` distinct members drawn uniformly (seeded), and how many candidates were examined to find them.

        Rounds of seeded uniform draws of the space (``space.sample``), in a random order, are examined one
        by one (the rule is applied to a round at once): the members met first are kept. A round draws 4n
        candidates at first and four times as many each round after, up to ``candidates``."""
        if n < 1:
            raise BadInput(f"the number of architectures to draw must be positive, got {n}")
        rounds = np.random.SeedSequence(seed)
        members: list[np.ndarray] = []
        seen = np.zeros(0, dtype=np.int64)
        examined, batch, found = 0, min(candidates, 4 * n + 64), 0
        while found < n:
            child = rounds.spawn(1)[0]
            draw = space.sample(min(batch, space.size), int(child.generate_state(1)[0]))
            draw = np.random.default_rng(child).permutation(draw[~np.isin(draw, seen)])
            if not len(draw) or examined > 1000 * max(n, candidates):
                raise BadInput(f"the region holds fewer than {n} architectures that {examined:,} candidates could "
                               f"find (found {found})")
            inside = np.flatnonzero(self.contains(space, draw))[: n - found]
            members.append(draw[inside])
            found += len(inside)
            examined += int(inside[-1]) + 1 if found == n else len(draw)
            seen = np.concatenate([seen, draw])
            batch = min(candidates, 4 * batch)
        return np.concatenate(members), examined

    def estimate(self, space: Space, n: int, seed: int) -> dict:
        """The share of the space in the region, from a seeded uniform sample of ``n`` (Wilson 95 % interval),
        and the number of architectures it stands for."""
        n = min(n, space.size)
        hits = int(self.contains(space, space.sample(n, seed)).sum())
        share, low, high = wilson(hits, n)
        return {"sample": n, "seed": seed, "members": hits, "share": share, "share_low": low, "share_high": high,
                "architectures": share * space.size, "architectures_low": low * space.size,
                "architectures_high": high * space.size}


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float, float]:
    """The proportion ``hits / n`` and its Wilson score interval."""
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return p, max(0.0, centre - half), min(1.0, centre + half)


def fit_region(features: np.ndarray, labels: np.ndarray, kept: tuple[int, ...], feature: str, num_classes: int,
               bounds: dict[str, float], centers: np.ndarray | None = None) -> tuple[Region, float]:
    """The region of a clustering of sampled architectures (``features`` rows, their ``labels``), and the
    share of the sample whose label the rule gives back (its agreement with the clustering). ``centers``:
    k-means' own centers, cluster ``k`` in row ``k`` (None: each cluster's mean feature vector)."""
    features, labels = np.asarray(features, dtype=np.float64), np.asarray(labels, dtype=np.int64)
    if centers is not None:
        clusters, centroids = np.arange(len(centers)), np.asarray(centers, dtype=np.float64)
    else:
        clusters, position = np.unique(labels, return_inverse=True)
        sums = np.zeros((len(clusters), features.shape[1]))
        np.add.at(sums, position, features)
        centroids = sums / np.bincount(position)[:, None]
    region = Region(feature, clusters, centroids, tuple(int(c) for c in kept), num_classes, dict(bounds))
    agreement = float((region.assign(features) == labels).mean())
    return region, agreement
