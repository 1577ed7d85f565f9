"""Spectral clustering at scale: the landmark (Nyström) approximation, with out-of-sample assignment.

Exact spectral clustering needs the n-by-n affinity; for millions of architectures it is
approximated from m landmarks (Fowlkes et al., 2004, "Spectral grouping using the Nyström
method"): with C = A(points, landmarks) and W = A(landmarks, landmarks), the normalised
affinity D^-1/2 A D^-1/2 is approximated by C W^+ C^T (both sides scaled by the degrees),
whose leading eigenvectors come from one m-by-m eigenproblem. Rows of the embedding are
normalised to unit length (Ng, Jordan and Weiss) and clustered with k-means.

Any point, seen in the fit or not, is embedded from its affinities to the landmarks alone,
so the whole space is assigned shard by shard after fitting on a sample. Its own degree
only scales its row, which the unit-length normalisation removes. A cell without kernels
(disconnected: it outputs zeros) has no distribution and no affinity to any landmark: it
is left out of the fit and embedded at the origin. The affinity is
exp(-d² / η) of a probabilistic distance between operation-usage distributions, as in
:mod:`cbred_ray.cluster.spectral`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from cbred_ray.cluster.distances import pairwise
from cbred_ray.errors import BadInput

_BLOCK = 8192


@dataclass(frozen=True)
class NystromModel:
    landmarks: np.ndarray  # (m, d) landmark features
    scale: np.ndarray  # (m,) 1 / sqrt(approximate degree) of each landmark
    projection: np.ndarray  # (m, k): scaled landmark affinities -> embedding
    centers: np.ndarray  # (k, k) cluster centers in the embedding, numbered by decreasing fit size
    eta: float
    metric: str

    def embed(self, points: np.ndarray) -> np.ndarray:
        """Unit-length spectral embedding of any points, from their affinity to the landmarks."""
        points = np.asarray(points, dtype=np.float64)
        out = np.zeros((len(points), self.projection.shape[1]))
        usable = np.flatnonzero(points.sum(axis=1) > 0)  # a cell without kernels has no distribution
        for start in range(0, len(usable), _BLOCK):
            rows = usable[start : start + _BLOCK]
            c = np.exp(-np.square(pairwise(points[rows], self.landmarks, self.metric)) / self.eta)
            out[rows] = _unit_rows((c * self.scale) @ self.projection)
        return out

    def assign(self, points: np.ndarray) -> np.ndarray:
        """Cluster of each point: the nearest center in the embedding (ties: the lower id), row by row."""
        embedded = self.embed(points)
        return ((embedded[:, None, :] - self.centers[None]) ** 2).sum(axis=2).argmin(axis=1)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def fit_nystrom(points: np.ndarray, k: int, eta: float, seed: int, landmarks: int = 500,
                metric: str = "hellinger", weights: np.ndarray | None = None) -> NystromModel:
    """Fit on ``points`` (a sample of the space, optionally weighted): landmarks drawn from them with
    ``seed``, the embedding's top ``k`` eigenvectors, and k-means in the embedding."""
    points = np.asarray(points, dtype=np.float64)
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    usable = points.sum(axis=1) > 0
    points, weights = points[usable], weights[usable]
    if not 2 <= k <= min(landmarks, len(points)):
        raise BadInput(f"cluster.k = {k} must be between 2 and the {min(landmarks, len(points))} landmarks")
    if not eta > 0:
        raise BadInput(f"bandwidth eta must be positive, got {eta!r}")
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(len(points), size=min(landmarks, len(points)), replace=False))
    marks = points[chosen]
    c = np.exp(-np.square(pairwise(points, marks, metric)) / eta)  # (n, m)
    w = np.exp(-np.square(pairwise(marks, marks, metric)) / eta)  # (m, m)
    w_pinv = np.linalg.pinv(w, hermitian=True)
    degree = c @ (w_pinv @ (c.T @ weights))  # approximate degree of every fit point
    degree_marks = np.maximum(w @ (w_pinv @ (c.T @ weights)), 1e-12)
    scale = 1.0 / np.sqrt(degree_marks)
    cn = c * scale / np.sqrt(np.maximum(degree, 1e-12))[:, None]
    wn = w * np.outer(scale, scale)
    values, vectors = np.linalg.eigh(wn)
    keep = values > values.max() * 1e-10
    root_pinv = (vectors[:, keep] / np.sqrt(values[keep])) @ vectors[:, keep].T  # Wn^(-1/2)
    r = root_pinv @ (cn.T * np.sqrt(weights))  # (m, n)
    q_values, q_vectors = np.linalg.eigh(r @ r.T)
    top = np.argsort(q_values)[::-1][:k]
    projection = root_pinv @ q_vectors[:, top] / np.sqrt(np.maximum(q_values[top], 1e-12))
    embedded = _unit_rows((c * scale) @ projection)
    model = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(embedded, sample_weight=weights)
    sizes = np.bincount(model.labels_, weights=weights, minlength=k)
    order = sorted(range(k), key=lambda i: (-sizes[i], tuple(model.cluster_centers_[i])))
    return NystromModel(marks, scale, projection, model.cluster_centers_[order], float(eta), metric)
