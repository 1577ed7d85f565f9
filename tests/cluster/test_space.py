"""Clustering a space as the config says: the grid search, the fan-out, the record of the choice."""
import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from cbred_ray.cluster.kmeans import kmeans
from cbred_ray.cluster.space import SILHOUETTE_SAMPLE, Clustering, cluster_space
from cbred_ray.config import ClusterConfig
from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import nb201


def _plain(**section) -> Clustering:
    """The plain clustering a config section describes, as the pipeline makes it."""
    return Clustering.of(ClusterConfig(**section))


def _blobs(seed=0, centers=4, per=40):
    rng = np.random.default_rng(seed)
    middles = rng.dirichlet(np.ones(5), size=centers)
    points = np.concatenate([rng.dirichlet(200 * m, size=per) for m in middles])
    return points, np.repeat(np.arange(centers), per)


def test_kmeans_grid_takes_the_k_with_the_best_silhouette():
    features, _ = _blobs()
    cells = np.zeros((len(features), nb201.NUM_EDGES), dtype=np.int64)
    cfg = _plain(k=(2, 3, 4, 6), criterion="silhouette", n_init=3)
    result = cluster_space(features, cells, cfg, seed=1)
    values = {row["k"]: row["value"] for row in result.search}
    assert set(values) == {2, 3, 4, 6}
    for k, value in values.items():  # each candidate's value is the silhouette of that clustering
        labels = kmeans(features, k, 1, n_init=3).labels
        expected = silhouette_score(features, labels, sample_size=min(len(features), SILHOUETTE_SAMPLE), random_state=1)
        assert value == pytest.approx(expected)  # every point distinct: the silhouette over the points
    assert result.k == max(values, key=values.get)
    assert result.criterion == "silhouette" and len(np.unique(result.labels)) == result.k


def test_a_single_k_is_used_as_given_without_search():
    features, _ = _blobs()
    result = cluster_space(features, np.zeros((len(features), 6)), _plain(k=3, n_init=2), seed=0)
    assert result.k == 3 and result.search == [] and result.criterion is None


def test_spectral_labels_equal_points_alike_and_ids_follow_size():
    features, truth = _blobs(centers=3)
    features = np.concatenate([features, features[:30]])  # duplicates stand for equivalent architectures
    cfg = _plain(method="spectral", distance="hellinger", k=3, eta=0.05)
    result = cluster_space(features, np.zeros((len(features), 6)), cfg, seed=0)
    assert (result.labels[-30:] == result.labels[:30]).all()
    sizes = np.bincount(result.labels)
    assert list(sizes) == sorted(sizes, reverse=True)
    assert result.points == len(features) - 30


def test_spectral_grid_records_every_candidate_and_the_edit_distance_reads_cells():
    rng = np.random.default_rng(0)
    cells = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, size=60, replace=False))
    cfg = _plain(method="spectral", distance="edit", k=(2, 3), eta=(1.0, 4.0), criterion="eigengap")
    result = cluster_space(np.zeros((60, 7)), cells, cfg, seed=0)
    assert {(row["k"], row["eta"]) for row in result.search} == {(2, 1.0), (2, 4.0), (3, 1.0), (3, 4.0)}
    best = max(result.search, key=lambda row: (row["value"], -row["k"], -row["eta"]))
    assert (result.k, result.eta) == (best["k"], best["eta"])
    assert result.record()["sizes"] == np.bincount(result.labels).tolist()


def test_more_clusters_than_distinct_points_is_bad_input():
    features = np.repeat(np.eye(3), 5, axis=0)
    with pytest.raises(BadInput, match="cluster.k = 4 exceeds the 3 distinct"):
        cluster_space(features, np.zeros((15, 6)), _plain(k=(2, 4)), seed=0)


def test_distances_computed_as_ray_tasks_give_the_same_clustering(ray_local):
    from cbred_ray.pipeline.cluster_stage import ray_blocks

    rng = np.random.default_rng(1)
    cells = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, size=90, replace=False))
    features, _ = _blobs(centers=3, per=30)
    features[5] = 0.0  # a graph without kernels: no distribution
    for cfg, feats in ((_plain(method="spectral", distance="edit", k=3, eta=2.0), np.zeros((90, 7))),
                       (_plain(method="spectral", distance="jensen_shannon", k=3, eta=0.05), features)):
        n = len(feats)
        serial = cluster_space(feats, cells[:n], cfg, seed=0)
        parallel = cluster_space(feats, cells[:n], cfg, seed=0, blocks=lambda fn, rows, _: ray_blocks(fn, rows, 7))
        assert (serial.labels == parallel.labels).all()


def test_the_record_says_when_the_criterion_chose_an_end_of_its_grid():
    from cbred_ray.cluster.space import grid_edge

    features, _ = _blobs(centers=4)
    cells = np.zeros((len(features), nb201.NUM_EDGES), dtype=np.int64)
    inside = cluster_space(features, cells, _plain(k=(2, 4, 8), criterion="silhouette", n_init=3), seed=1)
    at_end = cluster_space(features, cells, _plain(k=(2, 3), criterion="silhouette", n_init=3), seed=1)
    assert inside.k == 4 and inside.record()["k_edge"] is None  # four blobs: the middle of the grid
    assert at_end.k == 3 and at_end.record()["k_edge"] == "largest"
    assert grid_edge(2, [4, 2, 8]) == "smallest" and grid_edge(3, [3]) is None


def test_the_silhouette_counts_each_distinct_feature_vector_once():
    from cbred_ray.cluster.space import distinct_silhouette

    features, _ = _blobs(centers=3, per=10)
    labels = kmeans(features, 3, 0, n_init=3).labels
    repeated = np.vstack([features, np.repeat(features[:5], 200, axis=0)])  # equivalent architectures
    repeated_labels = np.concatenate([labels, np.repeat(labels[:5], 200)])
    assert distinct_silhouette(repeated, repeated_labels, 0) == pytest.approx(silhouette_score(features, labels))
    assert silhouette_score(repeated, repeated_labels) > silhouette_score(features, labels)  # what rows would say


def test_on_nb201s_operation_usage_the_silhouette_does_not_grow_with_k_to_the_grids_end():
    from cbred_ray.spaces.cell import NB201Space

    space = NB201Space()
    features = space.features(space.canonical_indices(np.arange(0, space.size, 3)), "op_usage")
    result = cluster_space(features, np.zeros((len(features), 1)), _plain(k=(4, 8, 32, 64), n_init=2), seed=0)
    assert result.k < 64 and result.record()["k_edge"] != "largest"
