import itertools

import networkx as nx
import numpy as np

from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.canonical import canonical, canonical_cells, live_edges, nb201_unique_str

ALL = nb201.cell_range(0, nb201.SPACE_SIZE)


def _pruned_dag(cell) -> nx.MultiDiGraph:
    """Independent reference: the cell's DAG with only edges on an input->output path."""
    g = nx.DiGraph()
    g.add_nodes_from(range(nb201.NUM_NODES))
    for k, (to, frm) in enumerate(nb201.EDGES):
        if cell[k] != nb201.NONE:
            g.add_edge(frm, to, op=int(cell[k]))
    keep = nx.DiGraph()
    keep.add_nodes_from([0, 3])
    for frm, to, data in g.edges(data=True):
        if (frm == 0 or nx.has_path(g, 0, frm)) and (to == 3 or nx.has_path(g, to, 3)):
            keep.add_edge(frm, to, **data)
    return keep


def test_live_edges_match_graph_reachability():
    rng = np.random.default_rng(0)
    for cell in ALL[rng.choice(len(ALL), 400, replace=False)]:
        live = live_edges(cell[None])[0]
        reference = _pruned_dag(cell)
        for k, (to, frm) in enumerate(nb201.EDGES):
            assert live[k] == reference.has_edge(frm, to)


def test_canonical_form_is_idempotent_and_vectorised_form_agrees():
    canon = canonical_cells(ALL)
    np.testing.assert_array_equal(canonical_cells(canon), canon)
    for i in range(0, len(ALL), 97):
        assert canonical(ALL[i]) == tuple(int(o) for o in canon[i])


def _same_function_graph(a, b) -> bool:
    """Isomorphic with the input and output nodes fixed and edge operations matched."""
    ga, gb = _pruned_dag(a), _pruned_dag(b)
    for g in (ga, gb):
        nx.set_node_attributes(g, {n: {0: "in", 3: "out"}.get(n, "mid") for n in g.nodes}, "role")
    return nx.is_isomorphic(ga, gb, node_match=lambda x, y: x["role"] == y["role"],
                            edge_match=lambda x, y: x["op"] == y["op"])


def test_equal_canonical_forms_are_isomorphic_pruned_dags_and_distinct_ones_are_not():
    keys = nb201.indices_of(canonical_cells(ALL))
    rng = np.random.default_rng(1)
    for i in rng.choice(len(ALL), 200, replace=False):
        same = rng.choice(np.flatnonzero(keys == keys[i]))
        assert _same_function_graph(ALL[i], ALL[same])
        other = rng.choice(np.flatnonzero(keys != keys[i]))
        assert not _same_function_graph(ALL[i], ALL[other])


def test_cells_cut_off_from_the_output_all_map_to_the_empty_cell():
    canon = canonical_cells(ALL)
    empty = ~canon.any(axis=1)
    no_path = np.array([not nx.has_path(_pruned_dag(c), 0, 3) for c in ALL[::25]])
    np.testing.assert_array_equal(empty[::25], no_path)


def test_swapping_the_intermediate_nodes_keeps_the_class():
    for cell in itertools.islice(ALL[::13], 600):
        if cell[2] != nb201.NONE:
            continue
        swapped = cell[[1, 0, 2, 3, 5, 4]]
        assert canonical(cell) == canonical(swapped)


def test_authors_symbolic_form_reproduces_their_published_count():
    # The NAS-Bench-201 paper reports 6,466 unique topologies for its own to_unique_str.
    assert len({nb201_unique_str(c) for c in ALL}) == 6466
