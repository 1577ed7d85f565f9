"""Tests of cbred_ray.spaces.cell.graph: the bipartite graph of a cell, and its projections."""
from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import nodes_of, project
from cbred_ray.spaces.cell.canonical import canonical_cells
from cbred_ray.spaces.cell.graph import KERNEL_TYPES, cell_graph
from cbred_ray.spaces.cell.nb201 import SPACE as NB201
from cbred_ray.spaces.cell.nb201 import SPACE_SIZE, cell_range, parse

ALL_NONE = parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
CONV3_PATH = parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
SKIP_ONLY = parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
SKIP_SUM = parse("|skip_connect~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|")
ALL_CONV3 = parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")

# A fixed sample of distinct canonical cells with a path from input to output.
_CANONICAL = np.unique(canonical_cells(cell_range(0, SPACE_SIZE)), axis=0)
_CONNECTED = _CANONICAL[_CANONICAL.any(axis=1)]
SAMPLE = [tuple(int(o) for o in c) for c in np.random.default_rng(0).choice(_CONNECTED, 150, replace=False)]


def kinds(graph: nx.DiGraph, partition: str) -> Counter:
    return Counter(graph.nodes[n]["kind"] for n in nodes_of(graph, partition))


def test_single_conv3x3_path_counts():
    g = cell_graph(CONV3_PATH, NB201)
    assert kinds(g, "kernel") == {"relu": 1, "conv3x3": 1, "batchnorm": 1}
    # x0, x3, relu.out, conv.out are features; conv.weight, bn.weight, bn.bias parameters.
    assert kinds(g, "memory") == {"feature": 4, "parameter": 3}
    # relu: 1 read + 1 write; conv: 2 + 1; batchnorm: 3 + 1.
    assert g.number_of_edges() == 9
    assert list(nx.topological_sort(project(g, "kernel"))) == ["e30/relu", "e30/conv3x3", "e30/batchnorm"]


def test_skip_only_cell_is_one_identity():
    g = cell_graph(SKIP_ONLY, NB201)
    assert set(g.edges) == {("x0", "e30/identity"), ("e30/identity", "x3")}
    assert g.nodes["e30/identity"] == {"partition": "kernel", "kind": "identity"}


def test_node_with_several_inputs_is_an_add():
    g = cell_graph(SKIP_SUM, NB201)
    assert kinds(g, "kernel") == {"identity": 3, "add": 1}
    assert set(g.predecessors("x3/add")) == {"e30/out", "e31/out"}
    assert list(g.successors("x3/add")) == ["x3"]
    assert list(g.predecessors("x1")) == ["e10/identity"]  # single input: written directly
    assert g.number_of_nodes() == 5 + 4 and g.number_of_edges() == 9


def test_all_conv3x3_cell_counts():
    g = cell_graph(ALL_CONV3, NB201)
    assert kinds(g, "kernel") == {"relu": 6, "conv3x3": 6, "batchnorm": 6, "add": 2}
    # 4 cell nodes + 6 edges x (relu.out, conv.out) + 5 edge outputs into adds; 6 x 3 parameters.
    assert kinds(g, "memory") == {"feature": 4 + 12 + 5, "parameter": 18}
    assert g.number_of_edges() == 6 * 9 + 3 + 4


def test_all_none_cell_is_input_and_output_only():
    g = cell_graph(ALL_NONE, NB201)
    assert list(g.nodes) == ["x0", "x3"]
    assert g.number_of_edges() == 0
    assert project(g, "kernel").number_of_nodes() == 0


@pytest.mark.parametrize("cell", SAMPLE)
def test_graph_is_bipartite_and_kinds_are_known(cell):
    g = cell_graph(cell, NB201)
    part = dict(g.nodes(data="partition"))
    assert all({part[a], part[b]} == {"memory", "kernel"} for a, b in g.edges)
    assert set(kinds(g, "kernel")) <= set(KERNEL_TYPES)
    assert set(kinds(g, "memory")) <= {"feature", "parameter"}
    assert nx.is_directed_acyclic_graph(g)
    # Every array has at most one writer; every kernel writes exactly one array.
    assert all(g.in_degree(m) <= 1 for m in nodes_of(g, "memory"))
    assert all(g.out_degree(k) == 1 for k in nodes_of(g, "kernel"))


@pytest.mark.parametrize("cell", SAMPLE)
def test_projections_keep_one_partition_and_reachability(cell):
    g = cell_graph(cell, NB201)
    mem, ker = project(g, "memory"), project(g, "kernel")
    assert list(mem.nodes) == nodes_of(g, "memory")
    assert list(ker.nodes) == nodes_of(g, "kernel")
    assert nx.has_path(g, "x0", "x3")
    assert nx.has_path(mem, "x0", "x3")
    readers_of_input = set(g.successors("x0"))
    writers_of_output = set(g.predecessors("x3"))
    assert any(nx.has_path(ker, r, w) for r in readers_of_input for w in writers_of_output)


def test_memory_projection_edges_and_kinds():
    mem = project(cell_graph(CONV3_PATH, NB201), "memory")
    assert dict(mem.edges) == {
        ("x0", "e30/relu.out"): {"kind": "relu"},
        ("e30/relu.out", "e30/conv.out"): {"kind": "conv3x3"},
        ("e30/conv.weight", "e30/conv.out"): {"kind": "conv3x3"},
        ("e30/conv.out", "x3"): {"kind": "batchnorm"},
        ("e30/bn.weight", "x3"): {"kind": "batchnorm"},
        ("e30/bn.bias", "x3"): {"kind": "batchnorm"},
    }


def test_kernel_projection_of_a_sum():
    ker = project(cell_graph(SKIP_SUM, NB201), "kernel")
    assert set(ker.edges) == {("e10/identity", "e31/identity"), ("e30/identity", "x3/add"), ("e31/identity", "x3/add")}


def test_swapping_interchangeable_nodes_gives_isomorphic_graphs():
    swap = [1, 0, 2, 3, 5, 4]  # rename nodes 1 <-> 2 (valid when edge 2<-1 is none)
    same_kind = nx.algorithms.isomorphism.categorical_node_match(["partition", "kind"], [None, None])
    for cell in [c for c in SAMPLE if c[2] == 0][:20]:
        a, b = cell_graph(cell, NB201), cell_graph(tuple(cell[k] for k in swap), NB201)
        assert nx.is_isomorphic(a, b, node_match=same_kind)


def test_graph_is_deterministic():
    a, b = cell_graph(ALL_CONV3, NB201), cell_graph(ALL_CONV3, NB201)
    assert list(a.nodes(data=True)) == list(b.nodes(data=True))
    assert list(a.edges) == list(b.edges)


def test_accepts_numpy_cells():
    assert nx.utils.graphs_equal(cell_graph(np.asarray(SKIP_SUM, dtype=np.int8), NB201), cell_graph(SKIP_SUM, NB201))


@pytest.mark.parametrize("cell", [(0, 1), (0, 0, 0, 0, 0, 5), (0, 0, 0, 0, 0, -1)])
def test_bad_cells_are_refused(cell):
    with pytest.raises(BadInput):
        cell_graph(cell, NB201)


def test_bad_partition_is_refused():
    with pytest.raises(BadInput):
        project(cell_graph(SKIP_ONLY, NB201), "array")
