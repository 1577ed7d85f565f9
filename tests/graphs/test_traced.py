"""Tests of cbred_ray.graphs.traced: graphs of built networks by tracing, against the closed forms."""
from __future__ import annotations

from collections import Counter

import networkx as nx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cbred_ray.errors import BadInput
from cbred_ray.graphs.computational import KERNEL, MEMORY, nodes_of
from cbred_ray.graphs.traced import (
    graph_hash,
    kernel_counts,
    kernel_type,
    kernel_types_of,
    network_summary,
    trace_graph,
)
from cbred_ray.spaces.cell.features import op_counts
from cbred_ray.spaces.cell.graph import KERNEL_TYPES
from cbred_ray.spaces.cell.nb201 import SPACE, parse
from cbred_ray.spaces.cell.network import InferCell, build_network
from cbred_ray.spaces.nb101 import graph as nb101_graph
from cbred_ray.spaces.nb101 import nb101_space
from cbred_ray.spaces.nb101.network import NB101Cell, build_nb101_network
from cbred_ray.stats.cost import macs, params

CELL_INPUT = (1, 16, 32, 32)
NB101_TYPES = ("conv3x3", "conv1x1", "batchnorm", "relu", "maxpool", "add", "concat")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tracing runs each small operation once: one torch thread is several times faster than a pool."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def kernels(graph: nx.DiGraph) -> Counter:
    return Counter(graph.nodes[k]["kind"] for k in nodes_of(graph, KERNEL))


def reads(graph: nx.DiGraph, kind: str) -> list[int]:
    """Number of feature arrays each kernel of ``kind`` reads."""
    return sorted(sum(graph.nodes[m]["kind"] == "feature" for m in graph.predecessors(k))
                  for k in nodes_of(graph, KERNEL) if graph.nodes[k]["kind"] == kind)


def cell_module(cell) -> nn.Module:
    torch.manual_seed(0)
    return InferCell(SPACE.op_names(cell), CELL_INPUT[1])


def assert_well_formed(graph: nx.DiGraph) -> None:
    """Bipartite, acyclic, every array written at most once, parameters never written."""
    assert nx.is_directed_acyclic_graph(graph)
    for a, b in graph.edges:
        assert graph.nodes[a]["partition"] != graph.nodes[b]["partition"]
    for m in nodes_of(graph, MEMORY):
        assert graph.nodes[m]["kind"] in ("feature", "parameter")
        assert graph.in_degree(m) <= (0 if graph.nodes[m]["kind"] == "parameter" else 1)
    for k in nodes_of(graph, KERNEL):
        assert graph.out_degree(k) >= 1


# -- hand-written modules: kernel names, aliases, constants, sums, dead code ----------------------
class SeparableBlock(nn.Module):
    """Depthwise 3x3 (stride 2) -> BN -> ReLU6 -> pointwise 1x1 -> BN, as in MobileNet."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, stride=2, padding=1, groups=c, bias=False)
        self.bn1, self.act = nn.BatchNorm2d(c), nn.ReLU6()
        self.pw, self.bn2 = nn.Conv2d(c, 2 * c, 1, bias=False), nn.BatchNorm2d(2 * c)

    def forward(self, x):
        return self.bn2(self.pw(self.act(self.bn1(self.dw(x)))))


class Residual(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)
        self.unused = nn.Conv2d(c, c, 5, padding=2)

    def forward(self, x):
        dead = self.unused(x)  # noqa: F841 - computed, never used: dead code
        zero = self.conv(torch.zeros_like(x))  # input-independent: folded into a constant
        return F.relu(x + self.conv(x) + zero + x.mul(0.0))


class ConcatHead(nn.Module):
    def __init__(self, c: int, classes: int) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c, 1), nn.Conv2d(c, c, (1, 3), padding=(0, 1), groups=2)
        self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(2 * c, classes)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x)], dim=1)
        return self.fc(self.pool(y).flatten(1).view(x.shape[0], -1))


def test_depthwise_separable_block_names():
    g = trace_graph(SeparableBlock(8), (1, 8, 16, 16))
    assert kernels(g) == {"dwconv3x3_s2": 1, "batchnorm": 2, "relu6": 1, "conv1x1": 1}
    assert sorted(n for n in nodes_of(g, MEMORY) if g.nodes[n]["kind"] == "parameter") == [
        "bn1.bias", "bn1.weight", "bn2.bias", "bn2.weight", "dw.weight", "pw.weight"]
    assert_well_formed(g)


def test_residual_add_with_dead_code_and_constants():
    g = trace_graph(Residual(4), (2, 4, 8, 8))
    # one add of x and conv(x): the zeros branch and x * 0 are constants, the 5x5 conv is dead
    assert kernels(g) == {"conv3x3": 1, "add": 1, "relu": 1}
    assert reads(g, "add") == [2]
    assert "unused.weight" not in g and g.graph["inputs"] == ["x"]
    conv = next(k for k in nodes_of(g, KERNEL) if g.nodes[k]["kind"] == "conv3x3")
    assert set(g.predecessors(conv)) == {"x", "conv.weight", "conv.bias"}
    assert_well_formed(g)


def test_concat_and_linear_head():
    g = trace_graph(ConcatHead(4, 10), (3, 4, 8, 8))
    assert kernels(g) == {"conv1x1": 1, "gconv1x3": 1, "concat": 1, "globalpool": 1, "linear": 1}
    assert reads(g, "concat") == [2]
    (out,) = g.graph["outputs"]
    assert g.nodes[next(g.predecessors(out))]["kind"] == "linear"  # flatten and view are not kernels
    assert_well_formed(g)


def test_chained_adds_collapse_only_when_the_partial_sum_is_used_once():
    class Sums(nn.Module):
        def forward(self, x):
            a, b, c = torch.relu(x), torch.sigmoid(x), torch.tanh(x)
            once = a + b + c
            partial = a + b
            return sum([once, torch.relu(partial)]), partial + c

    g = trace_graph(Sums(), (1, 2, 4, 4))
    # partial is read twice, so it stays an add of 2 (and partial + c another); sum([...]) is
    # 0 + once + relu(partial), and once = a + b + c is read by that sum alone: one add of a, b, c, relu(partial)
    assert reads(g, "add") == [2, 2, 4]
    assert kernels(g)["relu"] == 2


def test_kernel_type_names():
    assert kernel_type(nn.Conv2d(4, 4, 3)) == "conv3x3"
    assert kernel_type(nn.Conv2d(4, 8, 5, stride=2, dilation=2)) == "conv5x5_s2_d2"
    assert kernel_type(nn.Conv2d(4, 4, 3, groups=4)) == "dwconv3x3"
    assert kernel_type(nn.Conv2d(4, 8, (1, 7), stride=(1, 2), groups=2)) == "gconv1x7_s1x2"
    weight = torch.zeros(6, 2, 3, 3)
    assert kernel_type(F.conv2d, (torch.zeros(1, 6, 8, 8), weight), {"groups": 3, "stride": 2}) == "gconv3x3_s2"
    assert kernel_type(nn.BatchNorm1d(3)) == kernel_type(F.batch_norm) == "batchnorm"
    assert {kernel_type(op) for op in (nn.ReLU(), F.relu, torch.relu, "relu_")} == {"relu"}
    assert [kernel_type(m) for m in (nn.Hardswish(), nn.SiLU(), nn.GELU(), nn.Sigmoid())] == [
        "hardswish", "silu", "gelu", "sigmoid"]
    assert kernel_type(nn.AvgPool2d(3, stride=1, padding=1)) == "avgpool"
    assert kernel_type(nn.MaxPool2d(2)) == "maxpool_s2"
    assert kernel_type(nn.AdaptiveAvgPool2d(1)) == kernel_type(nn.AdaptiveAvgPool2d((1, 1))) == "globalpool"
    assert kernel_type(nn.AdaptiveAvgPool2d(4)) == "adaptiveavgpool"
    assert kernel_type("mean", (torch.zeros(1, 3, 4, 4), (2, 3))) == "globalpool"
    assert kernel_type("mean", (torch.zeros(1, 3, 4, 4), 1)) == "mean"
    assert kernel_type(nn.Identity()) == "identity" and kernel_type(nn.Linear(2, 3)) == "linear"
    assert kernel_type(torch.cat) == "concat"


def test_kernel_counts_refuse_unlisted_types_and_keep_the_given_order():
    g = trace_graph(SeparableBlock(4), (1, 4, 8, 8))
    order = ("conv1x1", "batchnorm", "relu6", "dwconv3x3_s2")
    np.testing.assert_array_equal(kernel_counts(g, order), [kernels(g)[t] for t in order])
    assert set(kernel_types_of(g)) == set(order)
    with pytest.raises(BadInput, match="relu6"):
        kernel_counts(g, ("conv1x1", "batchnorm", "dwconv3x3_s2"))


def test_tracing_leaves_the_module_as_it_was_and_refuses_what_cannot_run():
    net = SeparableBlock(4).train()
    before = [b.clone() for b in net.buffers()]
    trace_graph(net, (1, 4, 8, 8))
    assert net.training and all(torch.equal(a, b) for a, b in zip(before, net.buffers()))
    with pytest.raises(BadInput, match="cannot trace"):
        trace_graph(net, (1, 3, 8, 8))  # wrong channel count


# -- NB201 and NB101 against their closed forms ---------------------------------------------------
def test_nb201_counts_equal_the_closed_form_on_a_sample():
    indices = np.random.default_rng(0).choice(SPACE.size, 200, replace=False)
    canonical = SPACE.canonical_cells(SPACE.cells_of(indices))
    closed = op_counts(SPACE, canonical)
    traced = np.stack([kernel_counts(trace_graph(cell_module(c), CELL_INPUT), KERNEL_TYPES) for c in canonical])
    np.testing.assert_array_equal(traced, closed)


def test_nb101_counts_equal_the_closed_form_on_a_sample():
    space = nb101_space(5)
    indices = np.random.default_rng(0).choice(space.size, 100, replace=False)
    closed = dict(zip(nb101_graph.KERNEL_TYPES, nb101_graph.kernel_counts(*space.decoded(indices)).T))
    closed["conv1x1"] = closed["conv1x1"] + closed.pop("proj1x1")  # a projection is a traced 1x1 conv
    expected = np.stack([closed[t] for t in NB101_TYPES], axis=1)
    traced = []
    for index in indices:
        spec = space.spec(int(index))
        cell = NB101Cell(spec.array(), spec.ops, 24, 40)  # 40 channels over up to 3 feeders: truncations
        traced.append(kernel_counts(trace_graph(cell, (1, 24, 8, 8)), NB101_TYPES))
    np.testing.assert_array_equal(np.stack(traced), expected)


def test_graphs_are_bipartite_with_one_writer_per_array():
    for index in np.random.default_rng(1).choice(SPACE.size, 30, replace=False):
        assert_well_formed(trace_graph(cell_module(SPACE.cells_of(np.asarray([index]))[0]), CELL_INPUT))
    assert_well_formed(trace_graph(build_network(SPACE.op_names(parse(
        "|nor_conv_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|")), 10, 8, 1)))


# -- deduplication --------------------------------------------------------------------------------
def test_hash_ignores_renaming_dead_edges_and_swapped_nodes():
    cell = parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|")
    swapped = parse("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|")
    first, second = SPACE.canonical_indices(SPACE.indices_of(np.asarray([cell, swapped])))
    assert first == second and SPACE.indices_of(np.asarray([cell]))[0] != SPACE.indices_of(np.asarray([swapped]))[0]
    g = trace_graph(cell_module(cell), CELL_INPUT)
    assert graph_hash(trace_graph(cell_module(swapped), CELL_INPUT)) == graph_hash(g)
    renamed = nx.relabel_nodes(g, {n: f"renamed/{i}" for i, n in enumerate(reversed(list(g)))})
    assert graph_hash(renamed) == graph_hash(g)
    # an edge out of node 1 when nothing feeds node 1 is dead: the same graph as without it
    dead = parse("|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    alive = parse("|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    assert graph_hash(trace_graph(cell_module(dead), CELL_INPUT)) == graph_hash(
        trace_graph(cell_module(alive), CELL_INPUT))


def test_hash_separates_different_canonical_cells():
    indices = np.random.default_rng(2).choice(SPACE.size, 120, replace=False)
    canonical = SPACE.canonical_indices(indices)
    hashes = [graph_hash(trace_graph(cell_module(c), CELL_INPUT)) for c in SPACE.cells_of(indices)]
    pairs = {}
    for digest, canon in zip(hashes, canonical.tolist()):
        pairs.setdefault(digest, set()).add(canon)
    assert all(len(group) == 1 for group in pairs.values())
    assert len(pairs) == len(set(canonical.tolist()))


# -- costs ----------------------------------------------------------------------------------------
def test_network_summary_costs_equal_stats_cost():
    torch.manual_seed(0)
    nb201 = build_network(SPACE.op_names(parse(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|none~2|")), 10, 8, 1)
    nb101 = build_nb101_network([[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
                                ["input", "conv3x3-bn-relu", "maxpool3x3", "output"], stem_channels=8,
                                num_stacks=2, cells_per_stack=1)
    for net, shape in ((nb201, (1, 3, 32, 32)), (nb101, (1, 3, 16, 16))):
        summary = network_summary(net, shape)
        assert summary.params == params(net) > 0 and summary.macs == macs(net, shape) > 0
        assert summary.hash == graph_hash(summary.graph)
        assert kernels(summary.graph)["linear"] == 1
    empty = network_summary(cell_module(parse("|skip_connect~0|+|none~0|none~1|+|none~0|avg_pool_3x3~1|none~2|")),
                            CELL_INPUT)
    assert (empty.params, empty.macs) == (0.0, 0.0) and kernels(empty.graph) == {"identity": 1, "avgpool": 1}


def test_networks_that_differ_only_in_width_hash_apart():
    def chain(width: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))

    narrow, wide = trace_graph(chain(8)), trace_graph(chain(16))
    assert graph_hash(narrow, shapes=False) == graph_hash(wide, shapes=False)  # one structure
    assert graph_hash(narrow) != graph_hash(wide)
    assert graph_hash(narrow) == graph_hash(trace_graph(chain(8)))
