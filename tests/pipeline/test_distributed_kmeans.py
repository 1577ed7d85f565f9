"""Distributed k-means on a real local Ray: seed-determined, shard-independent, as good as scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest
import ray
from sklearn.cluster import KMeans

from cbred_ray.pipeline.kmeans_stage import distributed_kmeans
from cbred_ray.pipeline.shard_holders import ShardHolder
from cbred_ray.spaces.cell import CellSpace
from cbred_ray.spaces.cell.features import cell_features


@pytest.fixture(scope="module")
def nb201_op_usage():
    space = CellSpace(4)
    index = np.arange(space.size)
    canonical = space.canonical_cells(space.cells_of(index))
    return index, space.indices_of(canonical), cell_features(space, canonical, "op_usage")


def _holders(data, shards, holders):
    """``holders`` actors holding ``shards`` shards of the rows, dealt out in turn."""
    actors = [ShardHolder.options(num_cpus=0.5).remote() for _ in range(holders)]
    parts = zip(*(np.array_split(a, shards) for a in data), strict=True)
    ray.get([actors[n % holders].put.remote(n, canonical, ids, features)
             for n, (ids, canonical, features) in enumerate(parts)])
    return actors


def test_result_depends_on_the_seed_not_on_the_shards_or_holders(ray_local, nb201_op_usage):
    runs = [distributed_kmeans(_holders(nb201_op_usage, s, h), k=12, seed=5) for s, h in ((1, 1), (3, 2), (8, 3))]
    for run in runs[1:]:
        np.testing.assert_array_equal(run.centers, runs[0].centers)
        np.testing.assert_array_equal(run.sizes, runs[0].sizes)
        assert run.inertia == runs[0].inertia and run.iterations == runs[0].iterations
    assert runs[0].converged and runs[0].sizes.sum() == 15625
    assert (np.diff(runs[0].sizes) <= 0).all()  # numbered by decreasing size
    other = distributed_kmeans(_holders(nb201_op_usage, 3, 2), k=12, seed=6)
    assert not np.array_equal(other.centers, runs[0].centers)


@pytest.mark.parametrize("k", [8, 16, 32])
def test_inertia_within_one_percent_of_scikit_learn(ray_local, nb201_op_usage, k):
    ours = distributed_kmeans(_holders(nb201_op_usage, 4, 2), k=k, seed=0)
    theirs = KMeans(n_clusters=k, n_init=10, random_state=0).fit(nb201_op_usage[2].astype(np.float64))
    assert ours.inertia <= 1.01 * theirs.inertia_
