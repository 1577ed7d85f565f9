"""NB101 computational graphs and their vectorised features."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import MEMORY, nodes_of, project
from cbred_ray.graphs.features import adjacency_tensor, op_counts
from cbred_ray.spaces.nb101 import nb101_space
from cbred_ray.spaces.nb101.graph import ADJACENCY_WIDTH, KERNEL_TYPES, cell_graph

SMALL = nb101_space(5)  # 2,532 cells


def _counted(graph: nx.DiGraph) -> np.ndarray:
    return op_counts(graph, KERNEL_TYPES)


def test_vectorised_kernel_counts_equal_the_graphs_on_every_small_cell():
    index = np.arange(SMALL.size)
    counts = SMALL.features(index, "op_counts")
    built = np.stack([_counted(SMALL.computational_graph(int(i))) for i in index])
    np.testing.assert_array_equal(counts, built)
    usage = SMALL.features(index, "op_usage")
    np.testing.assert_allclose(usage.sum(axis=1), 1.0)
    np.testing.assert_array_equal(usage, built / built.sum(axis=1, keepdims=True))


def test_adjacency_is_lossless_and_one_hot():
    index = np.arange(SMALL.size)
    encoded = SMALL.features(index, "adjacency")
    assert encoded.shape == (SMALL.size, ADJACENCY_WIDTH)
    assert len(np.unique(encoded, axis=0)) == SMALL.size  # distinct cells, distinct rows
    size, _, _ = SMALL.decoded(index)
    ops = encoded[:, 21:].reshape(len(index), 5, 3)
    np.testing.assert_array_equal(ops.sum(axis=(1, 2)), size - 2)  # one operation per interior vertex
    assert ops.max() == 1


def test_graph_is_bipartite_and_every_array_has_one_writer():
    for i in np.random.default_rng(0).choice(SMALL.size, 200, replace=False):
        g = SMALL.computational_graph(int(i))
        assert nx.is_directed_acyclic_graph(g)
        for a, b in g.edges:
            assert g.nodes[a]["partition"] != g.nodes[b]["partition"]
        for m in nodes_of(g, MEMORY):
            assert g.in_degree(m) <= 1
        assert adjacency_tensor(g, KERNEL_TYPES).sum() == project(g, MEMORY).number_of_edges()
        memory = project(g, MEMORY)
        sources = [n for n in memory if memory.in_degree(n) == 0 and g.nodes[n]["kind"] == "feature"]
        assert sources == ["v0"]  # the cell input is the only feature array nothing writes


def test_hand_checked_cell():
    # input -> conv3x3 -> output, input -> maxpool -> output, input -> output
    matrix = np.array([[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]])
    g = cell_graph(matrix, ["input", "conv3x3-bn-relu", "maxpool3x3", "output"])
    counts = dict(zip(KERNEL_TYPES, _counted(g)))
    # three projections of the input (two vertices and the output), one conv, one pool, concat and add
    assert counts == {"conv3x3": 1, "conv1x1": 0, "proj1x1": 3, "batchnorm": 4, "relu": 4, "maxpool": 1,
                      "add": 1, "concat": 1}
    with pytest.raises(BadInput, match="4x4 matrix"):
        cell_graph(matrix[:3, :3], ["input", "conv3x3-bn-relu", "maxpool3x3", "output"])
