"""Tests of cbred_ray.graphs.features: adjacency tensors and operation usage."""
from __future__ import annotations

import numpy as np
import pytest

from cbred_ray.graphs.computational import nodes_of, project
from cbred_ray.graphs.features import adjacency_tensor, op_counts, op_usage
from cbred_ray.spaces.cell.graph import KERNEL_TYPES, cell_graph
from cbred_ray.spaces.cell.nb201 import SPACE as NB201
from cbred_ray.spaces.cell.nb201 import SPACE_SIZE, cell_range, parse

ALL_NONE = parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
CONV3_PATH = parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
SAMPLE = [tuple(int(o) for o in c) for c in cell_range(0, SPACE_SIZE)[:: SPACE_SIZE // 97]]
SWAP = [1, 0, 2, 3, 5, 4]  # rename nodes 1 <-> 2 (valid when edge 2<-1 is none)


def test_op_counts_and_usage_of_a_conv_path():
    g = cell_graph(CONV3_PATH, NB201)
    expected = {"relu": 1, "conv3x3": 1, "batchnorm": 1}
    assert op_counts(g, KERNEL_TYPES).tolist() == [expected.get(t, 0) for t in KERNEL_TYPES]
    np.testing.assert_allclose(op_usage(g, KERNEL_TYPES), [expected.get(t, 0) / 3 for t in KERNEL_TYPES])


def test_all_none_cell_has_zero_usage():
    g = cell_graph(ALL_NONE, NB201)
    assert op_counts(g, KERNEL_TYPES).tolist() == [0] * len(KERNEL_TYPES)
    usage = op_usage(g, KERNEL_TYPES)
    assert usage.dtype == np.float64 and usage.tolist() == [0.0] * len(KERNEL_TYPES)


@pytest.mark.parametrize("cell", SAMPLE)
def test_usage_is_a_distribution(cell):
    g = cell_graph(cell, NB201)
    usage = op_usage(g, KERNEL_TYPES)
    assert usage.shape == (len(KERNEL_TYPES),) and usage.dtype == np.float64
    assert (usage >= 0).all()
    assert usage.sum() == pytest.approx(1.0 if any(cell) else 0.0)
    assert op_counts(g, KERNEL_TYPES).sum() == len(nodes_of(g, "kernel"))


@pytest.mark.parametrize("cell", SAMPLE)
def test_adjacency_tensor_matches_memory_projection(cell):
    g = cell_graph(cell, NB201)
    a = adjacency_tensor(g, KERNEL_TYPES)
    order = nodes_of(g, "memory")
    assert a.shape == (len(order), len(order), len(KERNEL_TYPES)) and a.dtype == np.int8
    entries = {(order[i], order[j], KERNEL_TYPES[t]) for i, j, t in zip(*np.nonzero(a))}
    assert entries == {(u, v, kind) for u, v, kind in project(g, "memory").edges(data="kind")}


def test_adjacency_tensor_is_deterministic():
    assert np.array_equal(adjacency_tensor(cell_graph(SAMPLE[50], NB201), KERNEL_TYPES), adjacency_tensor(cell_graph(SAMPLE[50], NB201), KERNEL_TYPES))


def test_isomorphic_cells_have_equal_features():
    for cell in [c for c in SAMPLE if c[2] == 0]:
        a, b = cell_graph(cell, NB201), cell_graph(tuple(cell[k] for k in SWAP), NB201)
        assert np.array_equal(op_usage(a, KERNEL_TYPES), op_usage(b, KERNEL_TYPES))
        assert np.array_equal(op_counts(a, KERNEL_TYPES), op_counts(b, KERNEL_TYPES))
        assert (a.number_of_nodes(), a.number_of_edges()) == (b.number_of_nodes(), b.number_of_edges())
        assert adjacency_tensor(a, KERNEL_TYPES).sum() == adjacency_tensor(b, KERNEL_TYPES).sum()
