"""Tests of cbred_ray.graphs.records: the columns of the graphs table."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import cell_graph, project
from cbred_ray.graphs.features import CELL_ADJACENCY_SHAPE, cell_adjacency, op_counts, op_usage
from cbred_ray.graphs.records import FEATURE_NAMES, SCHEMA, graph_from_row, graph_records
from cbred_ray.spaces.canonical import canonical_cells
from cbred_ray.spaces.nb201 import cell_range

ADJ_SIZE = int(np.prod(CELL_ADJACENCY_SHAPE))


def test_columns_of_a_shard():
    cells = canonical_cells(cell_range(3000, 5000))
    cols = graph_records(cells)
    assert list(cols) == SCHEMA.names
    assert all(len(v) == len(cells) for v in cols.values())
    for name in ("n_memory", "n_kernel", "n_edges"):
        assert cols[name].dtype == np.int64
    assert {len(u) for u in cols["op_usage"]} == {len(FEATURE_NAMES)}
    assert {len(c) for c in cols["op_counts"]} == {len(FEATURE_NAMES)}
    assert {(a.dtype, a.size) for a in cols["adjacency"]} == {(np.dtype(np.int8), ADJ_SIZE)}


def test_rows_agree_with_the_graph_functions():
    cells = cell_range(7000, 7040)
    cols = graph_records(cells)
    for i, cell in enumerate(cells):
        g = cell_graph(cell)
        n_kernel = int(op_counts(g).sum())
        assert (cols["n_memory"][i], cols["n_kernel"][i]) == (g.number_of_nodes() - n_kernel, n_kernel)
        assert cols["n_edges"][i] == g.number_of_edges()
        assert np.array_equal(cols["op_usage"][i], op_usage(g))
        assert np.array_equal(cols["op_counts"][i], op_counts(g))
        assert np.array_equal(cols["adjacency"][i], cell_adjacency(cell).ravel())


def test_builds_an_arrow_table_with_the_schema():
    table = pa.table(graph_records(cell_range(0, 50)), schema=SCHEMA)
    assert table.num_rows == 50 and table.schema == SCHEMA


def test_cached_rows_are_read_only():
    cols = graph_records(cell_range(0, 2))
    with pytest.raises(ValueError):
        cols["op_usage"][1][0] = 1.0


def test_empty_batch():
    cols = graph_records(np.zeros((0, 6), dtype=np.int8))
    assert all(len(v) == 0 for v in cols.values())


def test_bad_shape_is_refused():
    with pytest.raises(BadInput):
        graph_records(np.zeros((3, 5), dtype=np.int8))


def test_two_thousand_raw_cells():
    cols = graph_records(cell_range(9000, 11000))  # distinct, non-canonical: no cache hits within the batch
    assert len(cols["n_kernel"]) == 2000


def test_stored_graph_and_projections_rebuild_the_networkx_graphs():
    cells = np.array([[3, 3, 0, 1, 2, 3], [1, 0, 0, 0, 0, 1], [4, 2, 3, 1, 0, 2]])
    records = graph_records(cells)
    for i, cell in enumerate(cells):
        original = cell_graph(tuple(cell))
        rebuilt = graph_from_row(records["nodes"][i], records["node_kinds"][i], records["edges"][i])
        assert list(rebuilt.nodes(data=True)) == list(original.nodes(data=True))
        assert set(rebuilt.edges) == set(original.edges)
        nodes = records["nodes"][i]
        memory = {(nodes[a], nodes[b], FEATURE_NAMES[k]) for a, b, k in records["memory_edges"][i].reshape(-1, 3)}
        assert memory == {(a, b, d["kind"]) for a, b, d in project(original, "memory").edges(data=True)}
        kernel = {(nodes[a], nodes[b]) for a, b in records["kernel_edges"][i].reshape(-1, 2)}
        assert kernel == set(project(original, "kernel").edges)
