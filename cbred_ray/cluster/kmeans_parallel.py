"""k-means over rows split into shards: the math of each step, pure and shard-independent.

The driver (:mod:`cbred_ray.pipeline.kmeans_stage`) runs these functions as Ray tasks,
one per shard, and adds up what they return. The result depends on the seed only,
never on how the rows are split into shards or on how many workers run them:

* every per-row quantity (squared distances, the nearest center, the random number
  that decides whether a row is drawn) is computed row by row, elementwise, so a row
  gets the same bits in any shard (no matrix product whose rounding depends on the
  block shape);
* random draws come from a counter-based hash of (seed, round, row id), not from a
  stream consumed in shard order;
* every sum that crosses shards (coordinates per cluster, the k-means|| cost, the
  inertia) is taken in 64-bit fixed point (:data:`SCALE`), where addition is exact and
  so does not depend on the order of the shards.

A shard holds its distinct feature rows once, with the rows that repeat them
(:class:`Points`): equivalent architectures share features, so every distance is
computed once per distinct row and weighted by its multiplicity, which changes no
bit of the result.

Initialisation is k-means|| (Bahmani et al., 2012): ``rounds`` passes each draw about
``oversample`` rows with probability proportional to their squared distance to the
candidates so far; the candidates, weighted by the rows nearest to them, are then
reduced to K centers by weighted k-means++ and Lloyd iterations on the driver.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

SCALE = float(2**24)
"""Fixed-point scale of cross-shard sums: values are rounded to multiples of 2**-24."""
_BLOCK = 8192  # rows per elementwise distance block (bounds temporary memory)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def row_uniforms(ids: np.ndarray, seed: int, stream: int) -> np.ndarray:
    """A uniform number in [0, 1) for each row id, a pure function of (seed, stream, id).

    SplitMix64 finalizer over the id mixed with the seed and stream.
    """
    with np.errstate(over="ignore"):
        z = np.asarray(ids, dtype=np.uint64) + np.uint64((seed * 0x9E3779B97F4A7C15 + stream * 0xBF58476D1CE4E5B9)
                                                         & 0xFFFFFFFFFFFFFFFF)
        z = (z + np.uint64(0x9E3779B97F4A7C15)) & _MASK64
        z = ((z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _MASK64
        z = ((z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _MASK64
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def to_fixed(values: np.ndarray) -> np.ndarray:
    """Values as int64 multiples of 1/SCALE (exact, order-free sums)."""
    return np.rint(np.asarray(values, dtype=np.float64) * SCALE).astype(np.int64)


def nearest(points: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest center (ties: the lower index) and the squared distance to it, per row."""
    points = np.asarray(points, dtype=np.float64)
    centers = np.asarray(centers, dtype=np.float64)
    labels = np.empty(len(points), dtype=np.int64)
    d2 = np.empty(len(points), dtype=np.float64)
    for start in range(0, len(points), _BLOCK):
        block = points[start : start + _BLOCK]
        dist = ((block[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
        labels[start : start + _BLOCK] = dist.argmin(axis=1)
        d2[start : start + _BLOCK] = dist[np.arange(len(block)), labels[start : start + _BLOCK]]
    return labels, d2


@dataclass(frozen=True)
class Points:
    """One shard's rows: their ids, and their features as distinct rows plus the map back."""

    ids: np.ndarray  # (n,) int64 row ids, distinct across shards (the architecture index)
    values: np.ndarray  # (u, d) float64 distinct feature rows
    inverse: np.ndarray  # (n,) distinct row of each row
    counts: np.ndarray  # (u,) int64 rows repeating each distinct row

    @classmethod
    def of(cls, ids: np.ndarray, features: np.ndarray) -> Points:
        features = np.ascontiguousarray(features, dtype=np.float64)
        keys = features.view(np.dtype((np.void, features.dtype.itemsize * features.shape[1]))).ravel()
        _, first, inverse, counts = np.unique(keys, return_index=True, return_inverse=True, return_counts=True)
        return cls(np.asarray(ids, dtype=np.int64), features[first], inverse.ravel(), counts.astype(np.int64))

    def row(self, position: int) -> np.ndarray:
        return self.values[self.inverse[position]]


@dataclass(frozen=True)
class Partial:
    """What one shard contributes to a Lloyd step."""

    sums: np.ndarray  # (k, d) int64 fixed point: coordinates of the rows nearest each center
    counts: np.ndarray  # (k,) int64
    cost: int  # fixed-point sum of squared distances to the nearest center (the inertia)

    def __add__(self, other: Partial) -> Partial:
        return Partial(self.sums + other.sums, self.counts + other.counts, self.cost + other.cost)

    @classmethod
    def zero(cls, k: int, d: int) -> Partial:
        return cls(np.zeros((k, d), np.int64), np.zeros(k, np.int64), 0)


def lloyd_partial(points: Points, centers: np.ndarray) -> Partial:
    """A shard's share of one Lloyd step: per-center fixed-point sums and counts, and its cost."""
    labels, d2 = nearest(points.values, centers)
    k, d = centers.shape
    sums = np.zeros((k, d), dtype=np.int64)
    np.add.at(sums, labels, to_fixed(points.values) * points.counts[:, None])
    counts = np.zeros(k, dtype=np.int64)
    np.add.at(counts, labels, points.counts)
    return Partial(sums, counts, int((to_fixed(d2) * points.counts).sum()))


def new_centers(total: Partial, previous: np.ndarray) -> np.ndarray:
    """Means of the rows nearest each center; a center nobody is nearest to stays where it was."""
    centers = np.asarray(previous, dtype=np.float64).copy()
    filled = total.counts > 0
    centers[filled] = total.sums[filled] / SCALE / total.counts[filled, None]
    return centers


def first_candidate(points: Points, seed: int) -> tuple[float, int, np.ndarray]:
    """The shard's row with the smallest draw: (draw, id, features). The smallest over shards is a uniform pick."""
    draws = row_uniforms(points.ids, seed, 0)
    at = int(np.lexsort((points.ids, draws))[0])
    return float(draws[at]), int(points.ids[at]), points.row(at)


def cost_of(points: Points, candidates: np.ndarray) -> int:
    """Fixed-point sum of squared distances from the shard's rows to their nearest candidate."""
    return int((to_fixed(nearest(points.values, candidates)[1]) * points.counts).sum())


def oversample(points: Points, candidates: np.ndarray, total_cost: int, oversampling: float, seed: int,
               stream: int) -> tuple[np.ndarray, np.ndarray]:
    """(ids, features) of the shard's rows drawn in one k-means|| round: P(row) = min(1, l d²(row) / cost)."""
    d2 = to_fixed(nearest(points.values, candidates)[1]).astype(np.float64)[points.inverse]
    picked = np.flatnonzero(row_uniforms(points.ids, seed, stream) * total_cost < oversampling * d2)
    return points.ids[picked], points.values[points.inverse[picked]]


def candidate_weights(points: Points, candidates: np.ndarray) -> np.ndarray:
    """Rows of the shard nearest each candidate."""
    weights = np.zeros(len(candidates), dtype=np.int64)
    np.add.at(weights, nearest(points.values, candidates)[0], points.counts)
    return weights


def reduce_candidates(candidates: np.ndarray, weights: np.ndarray, k: int, seed: int) -> np.ndarray:
    """K centers from weighted candidates: best of 10 weighted k-means++ and Lloyd runs (on the driver; cheap)."""
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(candidates, sample_weight=weights)
    return model.cluster_centers_


def relabel_by_size(counts: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """A renumbering of the clusters by decreasing size (ties: by center coordinates): new id of each old id."""
    order = sorted(range(len(counts)), key=lambda c: (-counts[c], tuple(centers[c])))
    relabel = np.empty(len(counts), dtype=np.int64)
    relabel[order] = np.arange(len(counts))
    return relabel
