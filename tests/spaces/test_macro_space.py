"""The MobileNet-style macro space: identifiers, parameters, closed-form features and costs against the
built and traced networks, the networks themselves, and its config loaded without torch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cbred_ray.config import config_from_dict, load_config
from cbred_ray.errors import BadInput
from cbred_ray.spaces import space_of

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "macro_mbv2_cifar10.yaml"
SMALL = {
    "stem_channels": 8, "head_channels": 32,
    # shape-preserving layers, a strided one and an unstrided change of channels (identity as a 1x1 conv)
    "stages": [{"layers": 2, "channels": 8, "stride": 1}, {"layers": 2, "channels": 16, "stride": 2},
               {"layers": 1, "channels": 24, "stride": 1}],
    "choices": ["identity", "mbconv_k3_t1", "mbconv_k5_t3_se", "conv_k3", "mbconv_k3_t2_se"],
}


@pytest.fixture(scope="module")
def shipped():
    return space_of("macro")


@pytest.fixture(scope="module")
def small():
    return space_of("macro", **SMALL)


def test_defaults_are_the_shipped_config(shipped):
    space = load_config(CONFIG).space.space()
    assert space == shipped and space.describe() == shipped.describe()
    assert shipped.size == 3**8 == 6561 and shipped.id_column == "arch"
    assert space_of("macro", **SMALL).size == 5**5


@pytest.mark.parametrize("params", [SMALL, {"choices": ["conv_k3"]}, {"stages": [{"layers": 11, "channels": 8}],
                                                                       "choices": [f"conv_k{k}" for k in (1, 3, 5)]}])
def test_size_is_choices_to_the_layers(params):
    space = space_of("macro", **params)
    assert space.size == len(space.choices) ** sum(stage.layers for stage in space.stages)


def test_identifiers_round_trip(shipped, small):
    for space in (shipped, small):
        index = np.concatenate([[0, space.size - 1], space.sample(200, 0)])
        ids = space.format_ids(index)
        assert [space.parse_id(i) for i in ids] == index.tolist()
        np.testing.assert_array_equal(space.parse_ids(ids), index)
        assert all(len(i) == space.num_layers for i in ids)
    assert shipped.format_ids([0, 1, 3, shipped.size - 1]) == ["00000000", "00000001", "00000010", "22222222"]
    assert shipped.parse_id("02012100") == int("02012100", 3)
    assert small.block_names(small.parse_id("04132")) == ("identity", "mbconv_k3_t2_se", "mbconv_k3_t1",
                                                           "conv_k3", "mbconv_k5_t3_se")


@pytest.mark.parametrize("bad", ["0000000", "000000000", "0000000x", "00000003", "A0000000", "", "0000 000"])
def test_bad_identifiers_are_refused_by_name(shipped, bad):
    with pytest.raises(BadInput, match=f"'{bad}'"):
        shipped.parse_id(bad)
    with pytest.raises(BadInput, match=f"'{bad}'"):
        shipped.parse_ids(["00000000", bad])


def test_indices_outside_are_refused(shipped):
    with pytest.raises(BadInput, match="6561"):
        shipped.format_ids([6561])


@pytest.mark.parametrize(("params", "match"), [
    ({"choices": ["identity", "mbconv_k4_t3"]}, "mbconv_k4_t3"),
    ({"choices": ["identity", "sep_conv_3x3"]}, "sep_conv_3x3"),
    ({"choices": ["conv_k3", "conv_k3"]}, "twice"),
    ({"choices": []}, "choices"),
    ({"choices": [f"conv_k{k}" for k in range(1, 16, 2)] * 4 + ["identity"] * 5}, "choices"),
    ({"stages": []}, "stages"),
    ({"stages": [{"layers": 0, "channels": 8}]}, "layers"),
    ({"widht": 3}, "widht"),
])
def test_bad_parameters_are_one_line_errors(params, match):
    with pytest.raises(BadInput, match=match) as caught:
        space_of("macro", **params)
    assert "\n" not in str(caught.value)


def test_a_config_with_a_bad_block_is_a_one_line_error():
    data = {"space": {"name": "macro", "choices": ["identity", "mbconv_k3_t3", "mbconv_k5_x6"]}}
    with pytest.raises(BadInput, match="mbconv_k5_x6") as caught:
        config_from_dict(data)
    assert "\n" not in str(caught.value)


def test_importing_and_validating_the_config_does_not_import_torch():
    code = ("import sys; import cbred_ray.spaces.macro; from cbred_ray.config import load_config; "
            f"c = load_config({str(CONFIG)!r}); assert c.space.space().size == 6561; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_every_architecture_is_its_own_canonical_form(small):
    index = small.sample(50, 1)
    np.testing.assert_array_equal(small.canonical_indices(index), index)


def test_features_are_fixed_width_and_consistent(shipped):
    index = shipped.sample(100, 2)
    counts = shipped.features(index, "op_counts")
    usage = shipped.features(index, "op_usage")
    onehot = shipped.features(index, "adjacency")
    assert counts.shape == usage.shape == (100, len(shipped.kernel_types))
    np.testing.assert_allclose(usage.sum(axis=1), 1.0)
    np.testing.assert_allclose(usage, counts / counts.sum(axis=1, keepdims=True))
    assert onehot.shape == (100, 8 * 3) and (onehot.sum(axis=1) == 8).all()
    digits = onehot.reshape(100, 8, 3).argmax(axis=2)
    assert ["".join(map(str, row)) for row in digits] == shipped.format_ids(index)
    assert shipped.kernel_types == ("conv1x1", "conv1x1_s2", "conv3x3", "dwconv3x3", "dwconv3x3_s2", "dwconv5x5",
                                    "dwconv5x5_s2", "batchnorm", "relu6", "globalpool", "add", "identity", "linear")


def test_op_counts_are_the_graphs_kernel_counts(shipped, small):
    from cbred_ray.graphs.computational import KERNEL, MEMORY
    from cbred_ray.graphs.features import op_counts

    for space in (shipped, small):
        index = space.sample(12, 3)
        counts = space.features(index, "op_counts")
        for row, i in zip(counts, index):
            graph = space.computational_graph(int(i))
            np.testing.assert_array_equal(row, op_counts(graph, space.kernel_types))
            for a, b in graph.edges:  # bipartite: reads and writes only
                assert {graph.nodes[a]["partition"], graph.nodes[b]["partition"]} == {KERNEL, MEMORY}
            assert all(graph.in_degree(m) <= 1 for m, p in graph.nodes(data="partition") if p == MEMORY)


def test_closed_form_costs_are_the_built_networks(shipped, small):
    import torch

    from cbred_ray.stats.cost import macs, params

    torch.manual_seed(0)
    for space, index in ((small, small.sample(20, 4)), (shipped, [0, shipped.size - 1, *shipped.sample(3, 4)])):
        expected_params, expected_macs = space.costs(np.asarray(index), 10)
        for i, want_params, want_macs in zip(index, expected_params, expected_macs):
            net = space.networks(int(i)).build("standard", 10)
            assert (params(net), macs(net)) == (want_params, want_macs), space.format_ids([i])[0]
    other = space_of("macro", **{**SMALL, "input_size": 16})
    net = other.networks(other.size - 1).build("standard", 7)
    assert other.costs(np.array([other.size - 1]), 7) == (params(net), macs(net, (1, 3, 16, 16)))


def test_traced_network_has_the_graphs_kernels():
    traced = pytest.importorskip("cbred_ray.graphs.traced")
    from cbred_ray.graphs.computational import PARAMETER

    space = space_of("macro", **SMALL)
    for i in space.sample(6, 5):
        net = space.networks(int(i)).build("standard", 10)
        graph, ours = traced.trace_graph(net), space.computational_graph(int(i))
        np.testing.assert_array_equal(traced.kernel_counts(graph, space.kernel_types),
                                      space.features(np.array([i]), "op_counts")[0])
        assert traced.graph_hash(graph, shapes=False) == traced.graph_hash(ours, shapes=False)  # the same program
        assert ({n for n, kind in graph.nodes(data="kind") if kind == PARAMETER}
                == {n for n, kind in ours.nodes(data="kind") if kind == PARAMETER})


def test_networks_forward_and_widths(shipped, small):
    import torch

    from cbred_ray.spaces.macro.network import MBConv, ReLU6

    batch = torch.randn(4, 3, 32, 32)
    index = small.parse_id("42142")
    for kind in ("standard", "small"):
        out = small.networks(index).build(kind, 10)(batch)
        assert out.shape == (4, 10) and torch.isfinite(out).all()
    standard = shipped.networks(shipped.size - 1).build("standard", 100)
    assert standard(batch).shape == (4, 100)
    assert standard.stem[0].out_channels == 32 and standard.head[0].out_channels == 1280
    assert standard.pre_pool(batch).shape == (4, 1280, 4, 4)
    assert [f.shape[1] for f in standard.cell_features(batch)] == [32, 64, 64, 128, 128, 128, 256, 256, 256]
    narrow = shipped.networks(shipped.size - 1, width=8)
    assert narrow.build("standard", 10).head[0].out_channels == 320  # 1280 x 8 / 32
    assert narrow.build("small", 10).stem[0].out_channels == 8  # a quarter, but at least 8
    assert shipped.networks(0).build("small", 10).layers[0][0].out_channels == 16
    assert isinstance(standard.layers[-1], MBConv) and standard.layers[-1].residual
    assert sum(isinstance(m, torch.nn.ReLU) for m in standard.modules()) == 2 + 8 * 2  # ReLU6 counts as ReLU
    assert isinstance(standard.stem[2], ReLU6) and standard.stem[2](torch.tensor([-1.0, 7.0])).tolist() == [0, 6]
    with pytest.raises(BadInput, match="thin"):
        shipped.networks(0).build("thin", 10)
