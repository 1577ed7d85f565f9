"""The DARTS space: its two identifier forms, its size, its canonical form, its network against the parameter
counts NAS-Bench-Suite-Zero records for NAS-Bench-301, and its closed-form costs against the built network."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.spaces import build_space
from cbred_ray.spaces.darts import encoding
from tests.conftest import NB301_SAMPLE

DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")


@pytest.fixture(scope="module")
def space():
    return build_space("darts")


@pytest.fixture(scope="module")
def nb301():
    if not NB301_SAMPLE.exists():
        pytest.skip("the NAS-Bench-301 sample is not beside the checkout")
    return pd.read_parquet(NB301_SAMPLE)


def test_the_size_is_every_node_choosing_an_unordered_input_pair_and_two_operations():
    per_node = [math.comb(2 + j, 2) * len(encoding.OPS) ** 2 for j in range(encoding.NODES)]
    assert encoding.CELLS == math.prod(per_node) == 180 * 7 ** 8
    assert build_space("darts").size == encoding.SIZE == encoding.CELLS ** 2 < 2 ** 63


def test_both_text_forms_parse_to_one_index_and_the_written_form_round_trips(space, nb301):
    indices = space.parse_ids(nb301["compact"].tolist())
    assert (indices == space.parse_ids(nb301["genotype"].tolist())).all()
    assert len(set(indices.tolist())) == len(nb301)
    assert (space.parse_ids(space.format_ids(indices)) == indices).all()
    assert (space.parse_ids(space.genotypes(indices)) == indices).all()


def test_the_order_of_a_nodes_two_edges_and_the_concat_written_as_a_range_do_not_matter(space):
    swapped = DARTS_V2.replace("('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)",
                               "('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 0)")
    assert swapped != DARTS_V2 and space.parse_id(swapped) == space.parse_id(DARTS_V2)
    assert space.parse_id(DARTS_V2.replace("[2, 3, 4, 5]", "range(2, 6)")) == space.parse_id(DARTS_V2)


@pytest.mark.parametrize("text, named", [
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "node 5 of the normal cell cannot take input 5"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 0)"), "node 5 of the normal cell takes input 0 twice"),
    (DARTS_V2.replace("'dil_conv_3x3'", "'conv_7x1_1x7'"), "unknown operation 'conv_7x1_1x7'"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3]"), "normal_concat [2, 3]"),
    ("[[(0, 1), (1, 9)], []]", "the normal cell needs 8"),
    ("[" + str([(0, 1), (1, 9)] * 4) + ", " + str([(0, 1), (1, 2)] * 4) + "]", "operation index 9"),
    ("Genotype(normal=[", "not a readable"),
    ("Genotype(normal=[('sep_conv_3x3', 0)])", "expected the fields"),
    ("sep_conv_3x3", "not a readable"),
])
def test_bad_genotypes_name_what_is_wrong(space, text, named):
    with pytest.raises(BadInput, match=named.replace("(", r"\(").replace("[", r"\[")):
        space.parse_id(text)


def test_the_canonical_count_of_two_operation_cells_equals_burnsides():
    codes = []
    for choice in itertools.product(*(range(len(pairs)) for pairs in encoding.PAIRS)):
        inputs = np.array([encoding.PAIRS[j][k] for j, k in enumerate(choice)])[None]
        for ops in itertools.product(range(2), repeat=2 * encoding.NODES):
            codes.append(encoding.encode_cells(inputs, np.array(ops).reshape(1, encoding.NODES, 2))[0])
    canonical = encoding.canonical_cells(np.array(codes))
    assert len(np.unique(canonical)) == encoding.distinct_cells(2) < len(codes)
    assert (encoding.canonical_cells(canonical) == canonical).all() and (canonical <= np.array(codes)).all()


def test_renamed_intermediate_nodes_are_one_architecture_and_trace_to_one_program(space):
    from cbred_ray.graphs.traced import graph_hash, trace_graph
    from cbred_ray.spaces.darts.network import DartsNetwork

    # nodes 2 and 3 both read only the cell inputs, so they can swap; node 5 reads node 2
    normal = "[(0, 3), (1, 4), (0, 5), (1, 2), (0, 1), (1, 6), (2, 3), (1, 0)]"
    renamed = "[(0, 5), (1, 2), (0, 3), (1, 4), (0, 1), (1, 6), (3, 3), (1, 0)]"
    reduce = "[(0, 0), (1, 1), (0, 2), (2, 3), (1, 4), (3, 5), (0, 6), (4, 2)]"
    a, b = space.parse_id(f"[{normal}, {reduce}]"), space.parse_id(f"[{renamed}, {reduce}]")
    assert a != b and space.canonical_indices([a])[0] == space.canonical_indices([b])[0]
    other = space.parse_id(f"[{normal.replace('(2, 3)', '(2, 4)')}, {reduce}]")
    assert space.canonical_indices([other])[0] != space.canonical_indices([a])[0]

    def traced(index):
        inputs, ops = encoding.decode([index])
        return graph_hash(trace_graph(DartsNetwork(inputs[0], ops[0], channels=4, cells=3), (1, 3, 32, 32)))

    assert traced(a) == traced(b) != traced(other)


def test_the_network_has_nas_bench_suite_zeros_parameter_counts(space, nb301):
    from cbred_ray.stats.cost import params

    indices = space.parse_ids(nb301["compact"].tolist())
    counted, _ = space.costs(indices, 10)
    assert (np.round(counted / 1e6, 6) == nb301["params_m"].to_numpy()).all()
    for k in range(0, len(nb301), 40):  # the built network, not only the closed form
        assert params(space.networks(int(indices[k])).build("standard", 10)) == counted[k]


@pytest.mark.parametrize("params", [{"channels": 8, "cells": 5, "auxiliary": True}, {"channels": 6, "cells": 11}])
def test_closed_form_costs_are_the_built_networks_at_any_width_depth_and_head(params):
    from cbred_ray.stats.cost import macs
    from cbred_ray.stats.cost import params as count

    space = build_space("darts", params)
    indices = space.sample(4, seed=3)
    counted, multiply_adds = space.costs(indices, 100)
    for k, index in enumerate(indices):
        net = space.networks(int(index)).build("standard", 100)
        assert (count(net), macs(net)) == (counted[k], multiply_adds[k])


def test_features_count_each_cells_operations_apart(space):
    index = space.parse_id(DARTS_V2)
    counts = dict(zip(space.kernel_types, space.features([index], "op_counts")[0]))
    assert counts["normal_sep_conv_3x3"] == 5 and counts["normal_skip_connect"] == 2
    assert counts["reduce_max_pool_3x3"] == 5 and counts["reduce_skip_connect"] == 3
    assert counts["add"] == 8 and counts["concat"] == 2 and sum(counts.values()) == 26
    rows = space.features(space.sample(50, seed=0), "adjacency")
    assert rows.shape == (50, 2 * 4 * 2 * (6 + 7)) and (rows.sum(axis=1) == 32).all()
    assert len({row.tobytes() for row in rows}) == 50


def test_statistics_may_run_on_a_shallower_network_while_costs_stay_the_benchmarks():
    from cbred_ray.spaces.check import CHECKS, check_space
    from cbred_ray.stats.cost import params

    space = build_space("darts", {"stats_cells": 5})
    index = int(space.sample(1, seed=0)[0])
    assert len(space.networks(index, 8).build("standard", 10).cells) == 5
    full = space.cost_network(index, 10)
    assert len(full.cells) == 8 and params(full) == space.costs([index], 10)[0][0]
    (costs,) = check_space(space, statistics=False, skip=[c for c in CHECKS if c not in ("costs", "statistics")])
    assert costs.name == "costs" and costs.passed
