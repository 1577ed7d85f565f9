"""Unsupervised criteria for the number of clusters that need no particular algorithm."""
from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import numpy as np
from sklearn.metrics import adjusted_rand_score

from cbred_ray.seeds import derive


def subsample_stability(fit: Callable[[np.ndarray, int], np.ndarray], n: int, k: int, seed: int, rounds: int = 5,
                        fraction: float = 0.8) -> float:
    """Mean adjusted Rand index between clusterings of random subsamples, on the points they share.

    ``fit(indices, seed)`` clusters the points ``indices`` (sorted) into ``k`` clusters and
    returns their labels. A K at which the data has real structure gives the same
    partition whichever points are left out (index near 1); an arbitrary K does not.
    """
    rng = np.random.default_rng(seed)
    runs = []
    for r in range(rounds):
        idx = np.sort(rng.choice(n, max(k, int(fraction * n)), replace=False))
        labels = np.full(n, -1)
        labels[idx] = fit(idx, derive(seed, r))
        runs.append(labels)
    scores = []
    for a, b in combinations(runs, 2):
        shared = (a >= 0) & (b >= 0)
        scores.append(adjusted_rand_score(a[shared], b[shared]))
    return float(np.mean(scores))
