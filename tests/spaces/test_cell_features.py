"""Vectorised cell-space features equal the ones built from networkx graphs."""
from __future__ import annotations

import numpy as np

from cbred_ray.graphs import features as graph_features
from cbred_ray.spaces.cell import CellSpace
from cbred_ray.spaces.cell.features import adjacency, cell_features, op_counts, op_usage
from cbred_ray.spaces.cell.graph import KERNEL_TYPES, cell_graph
from cbred_ray.spaces.cell.nb201 import SPACE as NB201


def test_op_counts_and_usage_equal_the_graph_ones_on_every_nb201_cell():
    space = CellSpace(4)
    distinct = np.unique(space.canonical_cells(space.cells_of(np.arange(space.size))), axis=0)
    graphs = [cell_graph(c, NB201) for c in distinct]
    counts = op_counts(space, distinct)
    np.testing.assert_array_equal(counts, np.stack([graph_features.op_counts(g, KERNEL_TYPES) for g in graphs]))
    np.testing.assert_allclose(op_usage(counts), np.stack([graph_features.op_usage(g, KERNEL_TYPES) for g in graphs]), rtol=0, atol=0)


def test_adjacency_is_one_hot_per_edge_and_lossless():
    space = CellSpace(5)
    canonical = space.canonical_cells(space.cells_of(np.random.default_rng(0).integers(0, space.size, 2000)))
    onehot = adjacency(space, canonical).reshape(len(canonical), space.num_edges, len(space.ops))
    assert (onehot.sum(axis=2) == 1).all()
    np.testing.assert_array_equal(onehot.argmax(axis=2), canonical)


def test_features_are_float64_rows_and_zero_for_the_empty_cell():
    space = CellSpace(5)
    cells = np.zeros((1, space.num_edges), dtype=np.int8)
    for name, width in (("op_usage", 7), ("op_counts", 7), ("adjacency", 50)):
        rows = cell_features(space, cells, name)
        assert rows.dtype == np.float64 and rows.shape == (1, width)
    assert not cell_features(space, cells, "op_usage").any()
