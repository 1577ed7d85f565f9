import numpy as np
import pytest
from sklearn.cluster import KMeans

from cbred_ray.cluster.kmeans import kmeans
from cbred_ray.errors import BadInput


def _points(seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(4, 3)) * 5
    pts = np.concatenate([c + rng.normal(size=(30, 3)) for c in centers])
    return np.concatenate([pts, pts[:40]])  # duplicates, as equivalent architectures have


def test_deterministic_and_labelled_by_decreasing_size():
    x = _points()
    a, b = kmeans(x, 4, seed=3), kmeans(x, 4, seed=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    sizes = np.bincount(a.labels)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_weighted_unique_rows_give_the_objective_of_all_rows():
    x = _points()
    result = kmeans(x, 4, seed=0)
    inertia_all_rows = ((x - result.centers[result.labels]) ** 2).sum()
    assert result.inertia == pytest.approx(inertia_all_rows)
    reference = KMeans(4, n_init=10, random_state=0).fit(x)
    assert result.inertia == pytest.approx(reference.inertia_, rel=1e-6)


def test_more_clusters_than_distinct_points_is_bad_input():
    with pytest.raises(BadInput, match="cluster.k = 5"):
        kmeans(np.zeros((10, 2)) + np.arange(3).repeat(4)[:10, None], 5, seed=0)
