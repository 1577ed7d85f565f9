"""A reduced space as a rule (cbred_ray.select.region): nearest-centroid membership within cost bounds,
seeded rejection sampling, and the estimated share, on real spaces (no store, no Ray)."""
from __future__ import annotations

import numpy as np
import pytest

from cbred_ray.cluster.kmeans import kmeans
from cbred_ray.errors import BadInput
from cbred_ray.select.region import Region, fit_region, wilson
from cbred_ray.spaces import build_space


@pytest.fixture(scope="module")
def nb201_region():
    """NB201 clustered whole by k-means on operation counts: the region of clusters 0 and 2."""
    space = build_space("nb201")
    index = np.arange(space.size)
    features = space.features(space.canonical_indices(index), "op_counts")
    labels = kmeans(features, 6, seed=0, n_init=2).labels
    region, agreement = fit_region(features, labels, (0, 2), "op_counts", 10, {})
    return space, labels, region, agreement


def test_the_rule_gives_back_k_means_own_clusters(nb201_region):
    space, labels, region, agreement = nb201_region
    assert agreement == 1.0
    assert (region.contains(space, np.arange(space.size)) == np.isin(labels, (0, 2))).all()


def test_cost_bounds_cut_the_region(nb201_region):
    space, labels, region, _ = nb201_region
    params, _ = space.costs(np.arange(space.size), 10)
    threshold = float(np.median(params))
    cut = Region(region.features, region.clusters, region.centroids, region.kept, 10,
                 {"min_params": threshold, "max_macs": float("inf")})
    expected = np.isin(labels, (0, 2)) & (params >= threshold)
    assert 0 < expected.sum() < np.isin(labels, (0, 2)).sum()
    assert (cut.contains(space, np.arange(space.size)) == expected).all()


def test_sampling_draws_distinct_members_reproducibly(nb201_region):
    space, labels, region, _ = nb201_region
    drawn, examined = region.sample(space, 300, seed=7)
    assert len(np.unique(drawn)) == 300 and np.isin(labels[drawn], (0, 2)).all()
    again, _ = region.sample(space, 300, seed=7)
    other, _ = region.sample(space, 300, seed=8)
    assert (again == drawn).all() and set(other.tolist()) != set(drawn.tolist())
    share = np.isin(labels, (0, 2)).mean()
    assert 300 <= examined < 3 * 300 / share  # about 1 / share candidates each
    members = int(np.isin(labels, (0, 2)).sum())
    everyone, _ = region.sample(space, members, seed=1)
    assert len(np.unique(everyone)) == members
    with pytest.raises(BadInput, match=f"fewer than {members + 1}"):
        region.sample(space, members + 1, seed=1)


def test_the_estimate_brackets_the_true_share(nb201_region):
    space, labels, region, _ = nb201_region
    estimate = region.estimate(space, 5000, seed=3)
    truth = np.isin(labels, (0, 2)).mean()
    assert estimate["share_low"] <= truth <= estimate["share_high"]
    assert estimate["architectures"] == pytest.approx(estimate["share"] * space.size)


def test_wilson_interval():
    share, low, high = wilson(10, 100)
    assert share == 0.1 and low == pytest.approx(0.0552, abs=1e-4) and high == pytest.approx(0.1744, abs=1e-4)
    assert wilson(0, 50)[1] == pytest.approx(0.0, abs=1e-12) and wilson(50, 50)[2] == pytest.approx(1.0)
