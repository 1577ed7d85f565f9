"""Spectral clustering on distance affinities, and the unsupervised choice of K and η."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from cbred_ray.cluster.spectral import affinity, eigengaps, select_best_parameter, spectral, stability
from cbred_ray.errors import BadInput


def blobs(sizes=(30, 20, 10), spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])[: len(sizes)]
    points = np.vstack([c + spread * rng.standard_normal((n, 2)) for c, n in zip(centers, sizes)])
    truth = np.repeat(np.arange(len(sizes)), sizes)
    return cdist(points, points), truth


def test_recovers_separated_groups_with_ids_by_size():
    d, truth = blobs()
    result = spectral(d, 3, eta=0.1, seed=0)
    assert np.array_equal(result.labels, truth)  # sizes 30, 20, 10 -> ids 0, 1, 2
    assert result.centers.shape == (3, 1) and all(result.labels[result.centers[:, 0]] == [0, 1, 2])
    assert np.array_equal(spectral(d, 3, eta=0.1, seed=0).labels, result.labels)


@pytest.mark.parametrize("criterion", ["silhouette", "eigengap", "stability"])
def test_each_criterion_finds_the_number_of_groups(criterion):
    d, _ = blobs(sizes=(25, 25, 25, 25))
    chosen = select_best_parameter(d, ks=[2, 3, 4, 5, 6], etas=[0.1], criterion=criterion, seed=0)
    assert chosen.k == 4 and chosen.eta == 0.1 and chosen.criterion == criterion
    assert len(chosen.table) == 5 and max(r["value"] for r in chosen.table) == next(
        r["value"] for r in chosen.table if r["k"] == 4)


def test_affinity_and_gaps():
    d, _ = blobs()
    a = affinity(d, 0.1)
    assert np.allclose(np.diag(a), 1.0) and np.allclose(a, a.T) and (a > 0).all() and (a <= 1).all()
    gaps = eigengaps(d, 0.1, 6)
    assert np.nanargmax(gaps) == 3
    assert stability(d, 3, 0.1, seed=1) > 0.95


def test_bad_values_are_named():
    d, _ = blobs()
    with pytest.raises(BadInput, match="eta must be positive"):
        affinity(d, 0.0)
    with pytest.raises(BadInput, match="cluster.k = 100"):
        spectral(d, 100, 0.1, 0)
    with pytest.raises(BadInput, match="'gap'"):
        select_best_parameter(d, [2], [0.1], "gap", 0)
    with pytest.raises(BadInput, match="square"):
        affinity(d[:3], 0.1)
