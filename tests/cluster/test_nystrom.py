"""Nyström spectral clustering: exact with every point a landmark, and an out-of-sample assignment."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from cbred_ray.cluster.distances import pairwise
from cbred_ray.cluster.nystrom import fit_nystrom
from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import CellSpace
from cbred_ray.spaces.cell.features import cell_features


@pytest.fixture(scope="module")
def distributions():
    space = CellSpace(4)
    points = np.unique(cell_features(space, space.canonical_cells(space.cells_of(np.arange(space.size))),
                                     "op_usage").astype(np.float64), axis=0)
    return points[points.sum(axis=1) > 0]


def _exact_njw(points, k, eta):
    """Exact normalised spectral clustering (Ng, Jordan and Weiss) on the full affinity."""
    a = np.exp(-np.square(pairwise(points, points, "hellinger")) / eta)
    d = a.sum(axis=1)
    values, vectors = np.linalg.eigh(a / np.sqrt(np.outer(d, d)))
    top = vectors[:, np.argsort(values)[::-1][:k]]
    top /= np.linalg.norm(top, axis=1, keepdims=True)
    return KMeans(n_clusters=k, n_init=10, random_state=0).fit(top).labels_


@pytest.mark.parametrize("k, eta", [(8, 0.05), (16, 0.05), (8, 0.2)])
def test_every_point_a_landmark_is_exact(distributions, k, eta):
    model = fit_nystrom(distributions, k, eta, seed=0, landmarks=len(distributions))
    assert adjusted_rand_score(_exact_njw(distributions, k, eta), model.assign(distributions)) > 0.99


def test_few_landmarks_approximate_and_assign_any_point(distributions):
    exact = _exact_njw(distributions, 16, 0.05)
    model = fit_nystrom(distributions[::2], 16, 0.05, seed=0, landmarks=60)
    labels = model.assign(distributions)  # half of them never seen in the fit
    assert adjusted_rand_score(exact, labels) > 0.5
    np.testing.assert_array_equal(np.concatenate([model.assign(distributions[:50]), model.assign(distributions[50:])]),
                                  labels)  # row by row: the split does not matter
    assert set(labels) == set(range(16))


def test_cells_without_kernels_sit_at_the_origin(distributions):
    model = fit_nystrom(np.vstack([distributions, np.zeros((1, 7))]), 4, 0.05, seed=0, landmarks=50)
    assert not model.embed(np.zeros((2, 7))).any()
    assert np.allclose(np.linalg.norm(model.embed(distributions[:5]), axis=1), 1.0)


def test_bad_k_or_eta(distributions):
    with pytest.raises(BadInput, match="cluster.k = 1"):
        fit_nystrom(distributions, 1, 0.05, seed=0)
    with pytest.raises(BadInput, match="eta must be positive"):
        fit_nystrom(distributions, 4, 0.0, seed=0)
