"""The pure steps of distributed k-means: per-row determinism and exact, order-free sums."""
from __future__ import annotations

import numpy as np

from cbred_ray.cluster import kmeans_parallel as kp


def _points(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.random((40, 3))
    rows = values[rng.integers(0, 40, n)]  # repeated rows, as equivalent architectures repeat features
    return np.arange(100, 100 + n), rows


def test_row_uniforms_are_a_function_of_seed_stream_and_id():
    ids = np.arange(200_000)
    u = kp.row_uniforms(ids, 7, 2)
    np.testing.assert_array_equal(u[1000:2000], kp.row_uniforms(ids[1000:2000], 7, 2))
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    assert not np.array_equal(u, kp.row_uniforms(ids, 8, 2)) and not np.array_equal(u, kp.row_uniforms(ids, 7, 3))


def test_points_keep_every_row():
    ids, rows = _points()
    points = kp.Points.of(ids, rows)
    assert len(points.values) == 40 and points.counts.sum() == len(rows)
    np.testing.assert_array_equal(points.values[points.inverse], rows)


def test_lloyd_partial_equals_the_row_by_row_sums_and_splits_exactly():
    ids, rows = _points()
    centers = rows[:5].copy()
    whole = kp.lloyd_partial(kp.Points.of(ids, rows), centers)
    labels = ((rows[:, None] - centers[None]) ** 2).sum(2).argmin(1)
    np.testing.assert_array_equal(whole.counts, np.bincount(labels, minlength=5))
    np.testing.assert_allclose(whole.sums / kp.SCALE, [rows[labels == c].sum(0) for c in range(5)], atol=1e-4)
    parts = [kp.lloyd_partial(kp.Points.of(ids[s], rows[s]), centers) for s in np.array_split(np.arange(3000), 7)]
    split = sum(parts[1:], start=parts[0])
    np.testing.assert_array_equal(split.sums, whole.sums)
    assert split.cost == whole.cost and (split.counts == whole.counts).all()


def test_oversample_draws_far_rows_and_never_the_candidates():
    ids, rows = _points()
    points = kp.Points.of(ids, rows)
    candidates = rows[:1]
    total = kp.cost_of(points, candidates)
    drawn_ids, drawn = kp.oversample(points, candidates, total, 20.0, seed=0, stream=1)
    assert 5 <= len(drawn_ids) <= 60  # about 20 expected
    assert not (drawn == candidates[0]).all(axis=1).any()
    np.testing.assert_array_equal(drawn, rows[drawn_ids - 100])


def test_empty_cluster_keeps_its_center():
    total = kp.Partial(np.array([[2 * int(kp.SCALE)], [0]]), np.array([2, 0]), 0)
    np.testing.assert_array_equal(kp.new_centers(total, np.array([[5.0], [9.0]])), [[1.0], [9.0]])
