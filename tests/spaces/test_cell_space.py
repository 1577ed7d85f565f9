"""The generic cell space: NB201 is its 4-node member; the canonical form for any node count."""
from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import CellSpace, nb201
from cbred_ray.spaces.cell.canonical import canonical_cells

FIVE = CellSpace(5)


def test_four_nodes_is_nb201():
    space = CellSpace(4, nb201.OPS)
    index = np.arange(space.size)
    assert space.size == nb201.SPACE_SIZE and space.edges == nb201.EDGES
    cells = space.cells_of(index)
    np.testing.assert_array_equal(cells, nb201.cells_of(index))
    np.testing.assert_array_equal(space.canonical_cells(cells), canonical_cells(cells))
    assert len(np.unique(space.canonical_indices(index))) == 8765
    assert [space.format_cell(c) for c in cells[::997]] == [nb201.format_cell(c) for c in cells[::997]]


def test_sizes_and_round_trip():
    assert FIVE.size == 5**10 == 9_765_625 and FIVE.num_edges == 10
    assert CellSpace(6).size == 5**15
    index = np.random.default_rng(0).integers(0, FIVE.size, 5000)
    np.testing.assert_array_equal(FIVE.indices_of(FIVE.cells_of(index)), index)


def _pruned_graph(space: CellSpace, cell) -> nx.DiGraph:
    """Labelled DAG of the live edges, input and output marked: an independent equivalence check."""
    live = space.live_edges(np.asarray([cell]))[0]
    g = nx.DiGraph()
    g.add_nodes_from(range(space.nodes), role="middle")
    g.nodes[0]["role"], g.nodes[space.nodes - 1]["role"] = "input", "output"
    for k, (to, frm) in enumerate(space.edges):
        if live[k]:
            g.add_edge(frm, to, op=int(cell[k]))
    return g


def _relabelled(space: CellSpace, cell, rng) -> np.ndarray:
    """The same function written differently: dead edges added, intermediate nodes renamed."""
    order = np.concatenate([[0], rng.permutation(np.arange(1, space.nodes - 1)), [space.nodes - 1]])
    pruned = np.where(space.live_edges(np.asarray([cell]))[0], cell, 0)
    position = {e: k for k, e in enumerate(space.edges)}
    out = np.zeros(space.num_edges, dtype=np.int8)
    for k, (to, frm) in enumerate(space.edges):
        if pruned[k]:
            a, b = order[to], order[frm]
            if a < b:
                return np.asarray(cell, dtype=np.int8)  # that renaming breaks the order: keep the cell
            out[position[(a, b)]] = pruned[k]
    for k in np.flatnonzero(out == 0):  # add one edge that stays dead (it cannot change the function)
        trial = out.copy()
        trial[k] = 3
        if not space.live_edges(trial[None])[0][k]:
            return trial
    return out


def test_canonical_form_matches_graph_isomorphism_on_five_nodes():
    rng = np.random.default_rng(1)
    base = FIVE.cells_of(rng.integers(0, FIVE.size, 50))
    cells = np.vstack([base, np.stack([_relabelled(FIVE, c, rng) for c in base])])
    canonical = FIVE.canonical_indices(FIVE.indices_of(cells))
    graphs = [_pruned_graph(FIVE, c) for c in cells]
    same_role = nx.algorithms.isomorphism.categorical_node_match("role", None)
    same_op = nx.algorithms.isomorphism.categorical_edge_match("op", None)
    for i in range(len(cells)):
        for j in range(i + 1, len(cells)):
            iso = nx.is_isomorphic(graphs[i], graphs[j], node_match=same_role, edge_match=same_op)
            assert (canonical[i] == canonical[j]) == iso, (FIVE.format_cell(cells[i]), FIVE.format_cell(cells[j]))
    np.testing.assert_array_equal(canonical[:50], canonical[50:])  # each copy is equivalent to its base


def test_canonical_is_idempotent_and_smallest():
    index = np.random.default_rng(2).integers(0, FIVE.size, 20000)
    canonical = FIVE.canonical_indices(index)
    np.testing.assert_array_equal(FIVE.canonical_indices(canonical), canonical)
    assert (canonical <= FIVE.indices_of(np.where(FIVE.live_edges(FIVE.cells_of(index)), FIVE.cells_of(index), 0))).all()
    disconnected = ~FIVE.live_edges(FIVE.cells_of(index)).any(axis=1)
    assert (canonical[disconnected] == 0).all()


def test_space_without_none_has_no_equivalences():
    space = CellSpace(4, ("skip_connect", "nor_conv_3x3"))
    index = np.arange(space.size)
    np.testing.assert_array_equal(space.canonical_indices(index), index)


def test_sample_is_seeded_distinct_and_sorted():
    a, b = FIVE.sample(50000, seed=3), FIVE.sample(50000, seed=3)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 50000 and (np.diff(a) > 0).all() and a.max() < FIVE.size
    assert not np.array_equal(a, FIVE.sample(50000, seed=4))
    six = CellSpace(6).sample(1000, seed=0)  # sample-only space: never enumerated
    assert len(np.unique(six)) == 1000 and six.max() < CellSpace(6).size


def test_ranges_cover_the_space_once():
    ranges = list(CellSpace(3).ranges(40))
    assert ranges[0] == (0, 40) and ranges[-1][1] == 125
    assert sum(e - s for s, e in ranges) == 125


@pytest.mark.parametrize("make, match", [
    (lambda: CellSpace(1), "2 to 8 nodes, got 1"),
    (lambda: CellSpace(9), "2 to 8 nodes, got 9"),
    (lambda: CellSpace(4, ("none", "conv9x9")), "unknown operation 'conv9x9'"),
    (lambda: CellSpace(4, ("none", "none")), "distinct operations"),
    (lambda: FIVE.cells_of(np.array([FIVE.size])), "architecture index 9765625 outside"),
    (lambda: FIVE.sample(0, 1), "sample size 0"),
])
def test_bad_input(make, match):
    with pytest.raises(BadInput, match=match):
        make()


def test_identifiers_of_an_n_node_space_round_trip_and_name_the_node_count():
    index = FIVE.sample(300, seed=2)
    ids = FIVE.format_ids(index)
    assert all(text.count("+") == 3 for text in ids)
    np.testing.assert_array_equal(FIVE.parse_ids(ids), index)
    with pytest.raises(BadInput, match="malformed 5-node arch string.*expected 4 nodes"):
        FIVE.parse_id(nb201.format_cell((1, 2, 3, 4, 0, 1)))
    with pytest.raises(BadInput, match="outside the cell space"):
        FIVE.format_ids([FIVE.size])
