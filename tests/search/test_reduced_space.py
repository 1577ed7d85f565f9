"""ReducedSpace: a whole space, a listed subset and a region, with draws and moves that stay inside."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.search import ReducedSpace
from cbred_ray.select.region import fit_region
from cbred_ray.spaces import build_space
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.nb101 import nb101_space

SPACE = nb201.SPACE


def test_a_whole_space_moves_one_edge_at_a_time():
    whole = ReducedSpace(SPACE)
    assert whole.whole and len(whole) == SPACE.size and "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|" in whole
    rng = np.random.default_rng(0)
    for index in SPACE.sample(50, seed=1).tolist():
        found = whole.neighbour_indices(index)
        assert len(found) == SPACE.num_edges * (len(SPACE.ops) - 1)
        changed = (SPACE.cells_of(found) != SPACE.cells_of([index])).sum(axis=1)
        assert (changed == 1).all()  # one edge's operation each
        child = whole.mutate_index(index, rng)
        assert child in found.tolist()


def test_a_listed_space_draws_and_moves_only_inside():
    members = SPACE.sample(300, seed=3)
    listed = ReducedSpace(SPACE, members=members, label="subset")
    assert len(listed) == 300 and listed.ids() == SPACE.format_ids(members)
    drawn = listed.sample(40, seed=5)
    assert len(set(drawn)) == 40 and listed.contains(drawn).all() and listed.sample(40, seed=5) == drawn
    outside = np.setdiff1d(np.arange(SPACE.size), members)[:20]
    assert not listed.contains(SPACE.format_ids(outside)).any()
    rng = np.random.default_rng(0)
    isolated = 0
    for index in members[:100].tolist():
        inside = listed.neighbour_indices(index)
        assert set(inside.tolist()) == set(SPACE.neighbours(index).tolist()) & set(members.tolist())
        isolated += not len(inside)
        assert listed.mutate_index(index, rng) in set(members.tolist())  # a member, isolated or not
    assert isolated  # 300 of 15,625: some members have no neighbour inside, and still mutate to a member
    order = list(listed.stream(np.random.default_rng(1)))
    assert sorted(order) == sorted(members.tolist())  # each member once
    with pytest.raises(BadInput, match="holds 300 architectures"):
        listed.sample(301)


def _labelled_graph(spec):
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from((v, {"op": op}) for v, op in enumerate(spec.ops))
    graph.add_edges_from((x, y) for x, row in enumerate(spec.matrix) for y, bit in enumerate(row) if bit)
    return graph


def test_nb101_neighbours_are_single_changes_that_stay_in_the_space():
    import networkx as nx

    from cbred_ray.spaces.nb101 import encoding

    space = nb101_space(5)
    same = lambda a, b: a["op"] == b["op"]  # noqa: E731
    for index in space.sample(12, seed=0).tolist():
        spec = space.spec(index)
        changed = []  # every single change of the cell, pruned as the benchmark prunes (isomorphism, not hashes)
        for v in range(1, spec.num_vertices - 1):
            for op in encoding.OPS:
                changed.append(([list(r) for r in spec.matrix], [*spec.ops[:v], op, *spec.ops[v + 1:]]))
        for x in range(spec.num_vertices):
            for y in range(x + 1, spec.num_vertices):
                rows = [list(r) for r in spec.matrix]
                rows[x][y] = 1 - rows[x][y]
                changed.append((rows, list(spec.ops)))
        graphs = []
        for rows, ops in changed:
            try:
                graphs.append(_labelled_graph(encoding.parse_spec({"matrix": rows, "ops": ops})))
            except BadInput:
                pass
        found = space.neighbours(index).tolist()
        assert found and index not in found
        for other in found:
            assert any(nx.is_isomorphic(_labelled_graph(space.spec(other)), g, node_match=same) for g in graphs)
        assert space.mutate(index, np.random.default_rng(index)) in found
    alone = space.parse_id(json.dumps({"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]}))
    assert not len(space.neighbours(alone))  # input -> output: removing its one edge leaves no cell
    assert 0 <= space.mutate(alone, np.random.default_rng(0)) < space.size  # it mutates to a cell drawn at random


def test_darts_neighbours_change_one_operation_or_one_input():
    from cbred_ray.spaces.darts import encoding

    space = build_space("darts")
    index = int(space.sample(1, seed=4)[0])
    inputs, ops = encoding.decode([index])
    found = space.neighbours(index)
    assert len(found) > 96 and index not in found
    other_inputs, other_ops = encoding.decode(found)
    for a, b in zip(other_inputs, other_ops):
        ops_changed = int((np.sort(b, axis=-1) != np.sort(ops[0], axis=-1)).any(axis=-1).sum())
        inputs_changed = int((np.sort(a, axis=-1) != np.sort(inputs[0], axis=-1)).any(axis=-1).sum())
        assert ops_changed + inputs_changed >= 1 and ops_changed <= 1 and inputs_changed <= 1  # one node touched


def test_a_region_draws_and_mutates_inside_its_rule():
    space = build_space("darts")
    sample = space.sample(3000, seed=0)
    features = space.features(space.canonical_indices(sample), "op_usage")
    rng = np.random.default_rng(0)
    centers = features[rng.choice(len(features), 3, replace=False)]
    labels = ((features[:, None] - centers[None]) ** 2).sum(axis=2).argmin(axis=1)
    region, agreement = fit_region(features, labels, kept=(0,), feature="op_usage", num_classes=10, bounds={},
                                   centers=centers)
    assert agreement == 1.0
    reduced = ReducedSpace(space, region=region)
    assert not reduced.listed
    with pytest.raises(BadInput, match="too many to list"):
        reduced.ids()
    drawn = reduced.sample(20, seed=1)
    assert reduced.contains(drawn).all() and all(arch in reduced for arch in drawn)
    for arch in drawn[:5]:
        child = reduced.mutate(arch, rng)
        assert child in reduced and child != arch
        assert set(reduced.neighbours(arch)) <= set(space.format_ids(space.neighbours(space.parse_id(arch))))
    stream = reduced.stream(np.random.default_rng(2))
    assert reduced.contains_indices([next(stream) for _ in range(30)]).all()


def test_a_run_gives_its_reduced_space(precomputed_store):
    store, manifest, _ = precomputed_store
    import cbred_ray

    result = cbred_ray.open_store(store.root)
    reduced = cbred_ray.open_store(store.root).reduced_space
    assert reduced.ids() == sorted(result.ids, key=SPACE.parse_id) and reduced.label == "C-BRED"
    assert set(reduced.indices().tolist()) == set(result.selection["arch_index"].tolist())
    assert result.reduced_space.contains(result.ids).all()


def test_bad_reduced_spaces_are_refused():
    with pytest.raises(BadInput, match="needs a cbred_ray Space"):
        ReducedSpace("nb201")
    with pytest.raises(BadInput, match="outside the nb201 space"):
        ReducedSpace(SPACE, members=[SPACE.size])
    with pytest.raises(BadInput, match="either listed"):
        ReducedSpace(SPACE, members=[1], region=object())
