"""k-means over graph feature vectors."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from cbred_ray.errors import BadInput


@dataclass(frozen=True)
class Clustering:
    labels: np.ndarray  # (n,) int, cluster of each row
    centers: np.ndarray  # (k, d)
    inertia: float


def kmeans(features: np.ndarray, k: int, seed: int, n_init: int = 10) -> Clustering:
    """Seeded k-means (k-means++ initialisation, best of ``n_init`` restarts).

    Duplicate rows (equivalent architectures share features) are clustered once
    with their multiplicity as sample weight, which gives the same objective as
    clustering every row and is faster. Cluster ids are renumbered by decreasing
    size (ties: by center coordinates) so that they do not depend on
    scikit-learn's internal order.
    """
    features = np.asarray(features, dtype=np.float64)
    uniq, inverse, counts = np.unique(features, axis=0, return_inverse=True, return_counts=True)
    if k > len(uniq):
        raise BadInput(f"cluster.k = {k} exceeds the {len(uniq)} distinct feature vectors")
    model = KMeans(n_clusters=k, n_init=n_init, random_state=seed).fit(uniq, sample_weight=counts)
    labels = model.labels_[inverse.ravel()]
    sizes = np.bincount(labels, minlength=k)
    order = sorted(range(k), key=lambda c: (-sizes[c], tuple(model.cluster_centers_[c])))
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    return Clustering(relabel[labels], model.cluster_centers_[order], float(model.inertia_))
