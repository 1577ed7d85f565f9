"""Spectral clustering on an affinity built from a distance matrix, and the choice of K and η.

The affinity is A = exp(-d² / η) (η the bandwidth), as the method describes; scikit-learn's
``SpectralClustering(affinity="precomputed")`` embeds the points with the leading
eigenvectors of the normalised affinity and assigns labels with k-means there.
``select_best_parameter`` picks K (and η) by an unsupervised criterion and reports every
candidate's value, so the choice can be audited; no accuracy is ever read.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse.csgraph import laplacian
from sklearn.cluster import SpectralClustering
from sklearn.metrics import silhouette_score

from cbred_ray.cluster.criteria import subsample_stability
from cbred_ray.cluster.kmeans import Clustering
from cbred_ray.errors import BadInput

CRITERIA = ("silhouette", "eigengap", "stability")


def affinity(distances: np.ndarray, eta: float) -> np.ndarray:
    """exp(-d² / η) of a symmetric, non-negative distance matrix."""
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1]:
        raise BadInput(f"distances must be a square matrix, got shape {distances.shape}")
    if not eta > 0:
        raise BadInput(f"bandwidth eta must be positive, got {eta!r}")
    return np.exp(-np.square(distances) / eta)


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Cluster ids renumbered by decreasing size, ties by first member, so that they do not
    depend on the algorithm's internal order."""
    ids, first, sizes = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (-sizes[i], first[i]))
    mapping = np.empty(ids.max() + 1, dtype=np.int64)
    mapping[ids[order]] = np.arange(len(ids))
    return mapping[labels]


def spectral(distances: np.ndarray, k: int, eta: float, seed: int) -> Clustering:
    """Seeded spectral clustering of the points of ``distances`` into ``k`` clusters.

    ``centers`` holds each cluster's medoid index (the member with the smallest summed
    distance to the others) as a (k, 1) array; ``inertia`` is the summed squared distance
    of members to their medoid.
    """
    n = len(distances)
    if not 2 <= k <= n:
        raise BadInput(f"cluster.k = {k} must be between 2 and the {n} points")
    model = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=seed, assign_labels="kmeans",
                               n_init=10)
    labels = relabel_by_size(model.fit_predict(affinity(distances, eta)))
    medoids, inertia = [], 0.0
    for c in range(k):
        members = np.flatnonzero(labels == c)
        within = distances[np.ix_(members, members)]
        best = members[int(np.argmin(within.sum(axis=1)))]
        medoids.append(best)
        inertia += float(np.square(distances[best, members]).sum())
    return Clustering(labels, np.array(medoids)[:, None], inertia)


def eigengaps(distances: np.ndarray, eta: float, k_max: int) -> np.ndarray:
    """gaps[k] = λ_{k+1} − λ_k of the normalised Laplacian of the affinity (ascending λ, 1-based
    k up to ``k_max``; entry 0 unused): a large gap after λ_k says the graph has k clusters."""
    values = np.linalg.eigvalsh(laplacian(affinity(distances, eta), normed=True))
    gaps = np.full(k_max + 1, np.nan)
    gaps[1:] = values[1 : k_max + 1] - values[:k_max]
    return gaps


def stability(distances: np.ndarray, k: int, eta: float, seed: int, rounds: int = 5, fraction: float = 0.8) -> float:
    """Mean adjusted Rand index between spectral clusterings of random subsamples (:func:`subsample_stability`)."""
    return subsample_stability(lambda idx, s: spectral(distances[np.ix_(idx, idx)], k, eta, s).labels,
                               len(distances), k, seed, rounds, fraction)


@dataclass(frozen=True)
class Selection:
    """The chosen (K, η), the criterion and every candidate's value."""

    k: int
    eta: float
    criterion: str
    table: list[dict] = field(default_factory=list)  # one row per candidate: k, eta, value


def select_best_parameter(distances: np.ndarray, ks: Sequence[int], etas: Sequence[float], criterion: str,
                          seed: int) -> Selection:
    """Choose K and η for spectral clustering by an unsupervised criterion (higher is better):

    - ``silhouette``: mean silhouette of the clustering on the distances;
    - ``eigengap``: λ_{K+1} − λ_K of the normalised Laplacian (no clustering needed);
    - ``stability``: agreement (adjusted Rand) of clusterings of random 80 % subsamples.

    Ties go to the smaller K, then the smaller η.
    """
    if criterion not in CRITERIA:
        raise BadInput(f"unknown selection criterion {criterion!r}; known: {', '.join(CRITERIA)}")
    if not ks or not etas:
        raise BadInput("select_best_parameter needs at least one K and one eta")
    table = []
    for eta in etas:
        gaps = eigengaps(distances, eta, max(ks)) if criterion == "eigengap" else None
        for k in ks:
            if criterion == "eigengap":
                value = float(gaps[k])
            elif criterion == "silhouette":
                labels = spectral(distances, k, eta, seed).labels
                value = float(silhouette_score(distances, labels, metric="precomputed")) if len(set(labels)) > 1 else -1.0
            else:
                value = stability(distances, k, eta, seed)
            table.append({"k": int(k), "eta": float(eta), "value": value})
    best = max(table, key=lambda row: (row["value"], -row["k"], -row["eta"]))
    return Selection(best["k"], best["eta"], criterion, table)
