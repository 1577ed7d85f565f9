"""Distributed k-means (driver) over the shards held by :class:`~cbred_ray.pipeline.shard_holders.ShardHolder` actors.

Every step of k-means|| initialisation and every Lloyd step is one call per holder,
which runs a pure function of :mod:`cbred_ray.cluster.kmeans_parallel` over each of its
shards and returns their exact sum; the driver only adds up K-by-d partial sums. The
driver never holds the features, so its memory does not grow with the space. The result
depends on the seed, not on the number of shards or holders.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from cbred_ray.cluster import kmeans_parallel as kp
from cbred_ray.errors import BadInput
from cbred_ray.log import say
from cbred_ray.pipeline.shard_holders import Holders
from cbred_ray.seeds import derive

ROUNDS = 5
"""k-means|| rounds; each draws about 2K candidates."""


@dataclass(frozen=True)
class KMeansRun:
    centers: np.ndarray  # (k, d), numbered by decreasing cluster size
    sizes: np.ndarray  # (k,) rows per cluster
    inertia: float
    iterations: int
    converged: bool
    candidates: int
    restart: int  # which of the n_init restarts won

    def record(self) -> dict:
        return {"k": int(len(self.centers)), "inertia": self.inertia, "iterations": self.iterations,
                "converged": self.converged, "init": "k-means||", "init_rounds": ROUNDS,
                "init_candidates": self.candidates, "restart_chosen": self.restart,
                "sizes": [int(s) for s in self.sizes], "centers": self.centers.tolist()}

    def assign(self, points: np.ndarray) -> np.ndarray:
        """The nearest center of each point."""
        return kp.nearest(points, self.centers)[0]


# -- the driver -----------------------------------------------------------------------------
def _init(holders: Holders, k: int, seed: int) -> tuple[np.ndarray, int]:
    """k-means|| over the shards; the K starting centers and how many candidates they came from."""
    firsts = holders.each("first", seed)
    draw, row, point = min(firsts, key=lambda f: (f[0], f[1]))
    ids, candidates = np.array([row]), point[None, :].astype(np.float64)
    for stream in range(1, ROUNDS + 1):
        total = sum(holders.each("cost", candidates))
        if total == 0:
            break
        drawn = holders.each("oversample", candidates, total, 2.0 * k, seed, stream)
        ids = np.concatenate([ids, *(d[0] for d in drawn)])
        candidates = np.vstack([candidates, *(d[1] for d in drawn)])
        order = np.argsort(ids, kind="stable")  # candidate order independent of the shard order
        ids, candidates = ids[order], candidates[order]
    distinct = len(np.unique(candidates, axis=0))
    if distinct < k:
        raise BadInput(f"cluster.k = {k} exceeds the {distinct} distinct feature vectors found")
    weights = sum(holders.each("weights", candidates))
    return kp.reduce_candidates(candidates, weights, k, seed), len(candidates)


def _lloyd_step(holders: Holders, centers: np.ndarray) -> kp.Partial:
    return sum(holders.each("lloyd", centers), start=kp.Partial.zero(*centers.shape))


def _lloyd_until_stable(holders: Holders, centers: np.ndarray, max_iter: int) -> tuple[np.ndarray, kp.Partial, int, bool]:
    for iteration in range(1, max_iter + 1):
        total = _lloyd_step(holders, centers)
        moved = kp.new_centers(total, centers)
        if np.array_equal(moved, centers):
            return centers, total, iteration, True
        centers = moved
    return centers, _lloyd_step(holders, centers), max_iter, False


def distributed_kmeans(holders: Holders | list, k: int, seed: int, n_init: int = 1, max_iter: int = 100,
                       progress: bool = False) -> KMeansRun:
    """k-means|| then Lloyd over the shards of the ``holders`` (or a list of loaded holder actors); the best
    of ``n_init`` restarts."""
    holders = holders if isinstance(holders, Holders) else Holders(holders)
    best = None
    for restart in range(n_init):
        started = time.perf_counter()
        centers, candidates = _init(holders, k, derive(seed, restart))
        centers, total, iterations, converged = _lloyd_until_stable(holders, centers, max_iter)
        say(progress, f"k-means restart {restart + 1}/{n_init}: {candidates} candidates, {iterations} "
                      f"iterations, inertia {total.cost / kp.SCALE:.6g} ({time.perf_counter() - started:.1f} s)")
        if best is None or total.cost < best[1].cost:
            best = (centers, total, iterations, converged, candidates, restart)
    centers, total, iterations, converged, candidates, restart = best
    relabel = kp.relabel_by_size(total.counts, centers)
    order = np.argsort(relabel)
    return KMeansRun(centers[order], total.counts[order], total.cost / kp.SCALE, iterations, converged,
                     candidates, restart)
