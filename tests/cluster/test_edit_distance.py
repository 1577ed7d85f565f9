"""The closed-form cell edit distance equals networkx's exact graph edit distance."""
import networkx as nx
import numpy as np
import pytest

from cbred_ray.cluster.edit_distance import EditCosts, edit_distance, pairwise_edit_distance
from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import nb201

ROLES = {0: "input", 1: "intermediate", 2: "intermediate", 3: "output"}


def labelled_dag(cell):
    g = nx.DiGraph()
    g.add_nodes_from((n, {"role": r}) for n, r in ROLES.items())
    for (to, src), op in zip(nb201.EDGES, cell):
        if op != nb201.NONE:
            g.add_edge(src, to, op=op)
    return g


def networkx_distance(a, b, costs):
    c = costs.matrix()
    return nx.graph_edit_distance(
        labelled_dag(a), labelled_dag(b),
        node_subst_cost=lambda x, y: 0.0 if x["role"] == y["role"] else 1e6,
        node_del_cost=lambda x: 1e6, node_ins_cost=lambda x: 1e6,
        edge_subst_cost=lambda x, y: c[x["op"], y["op"]],
        edge_del_cost=lambda x: c[x["op"], nb201.NONE], edge_ins_cost=lambda y: c[nb201.NONE, y["op"]],
    )


@pytest.mark.parametrize("costs", [EditCosts(), EditCosts(substitute={"same_family": 0.2, "other_family": 2.0},
                                                           insert={op: 1.5 for op in nb201.OPS[1:]},
                                                           delete={op: 0.7 for op in nb201.OPS[1:]})])
def test_closed_form_equals_networkx(costs):
    rng = np.random.default_rng(0)
    a = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, 12, replace=False))
    b = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, 6, replace=False))
    # pairs that need the 1 <-> 2 swap: a cell and its mirror image (edge (2<-1) none)
    mirror = lambda c: (c[1], c[0], c[2], c[3], c[5], c[4])  # noqa: E731
    swapped = [(3, 1, 0, 2, 4, 3), (2, 0, 0, 1, 3, 3)]
    a = np.vstack([a, swapped])
    b = np.vstack([b, [mirror(c) for c in swapped]])
    matrix = pairwise_edit_distance(a, b, costs, block=5)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert matrix[i, j] == pytest.approx(networkx_distance(tuple(x), tuple(y), costs)), (x, y)
    assert matrix[-2, -2] == 0 and matrix[-1, -1] == 0  # a cell and its mirror are the same graph


def test_a_metric_on_cells():
    rng = np.random.default_rng(1)
    cells = nb201.cells_of(rng.choice(nb201.SPACE_SIZE, 40, replace=False))
    d = pairwise_edit_distance(cells)
    assert np.all(np.diag(d) == 0) and np.allclose(d, d.T)
    assert np.all(d[:, :, None] <= d[:, None, :] + d.T[None, :, :] + 1e-12)  # triangle inequality
    assert edit_distance("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|",
                         "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|") == 0.5


def test_bad_cost_models_and_cells_are_refused():
    with pytest.raises(BadInput, match="same_family"):
        pairwise_edit_distance(np.zeros((1, 6), int), costs=EditCosts(substitute={"same": 1.0}))
    with pytest.raises(BadInput, match="non-negative"):
        pairwise_edit_distance(np.zeros((1, 6), int), costs=EditCosts(insert={op: -1.0 for op in nb201.OPS[1:]}))
    with pytest.raises(BadInput, match="NB201 cells"):
        pairwise_edit_distance(np.full((1, 6), 7))


def test_costs_from_a_config_override_only_what_they_name():
    costs = EditCosts.from_config({"same_family": 0.2, "insert": 2.0})
    c, ops = costs.matrix(), list(nb201.OPS)
    assert c[ops.index("nor_conv_1x1"), ops.index("nor_conv_3x3")] == 0.2
    assert c[ops.index("skip_connect"), ops.index("nor_conv_3x3")] == 1.0
    assert c[ops.index("none"), ops.index("avg_pool_3x3")] == 2.0
    assert c[ops.index("avg_pool_3x3"), ops.index("none")] == 1.0
    with pytest.raises(BadInput, match="unknown edit cost 'swap'"):
        EditCosts.from_config({"swap": 1.0})
