"""The NB101 network: channel plan, wiring, parameter counts against the benchmark's table, closed-form costs."""

from pathlib import Path

import numpy as np
import pytest
import torch

from cbred_ray.errors import BadInput
from cbred_ray.spaces.nb101.network import NB101Cell, build_nb101_network
from cbred_ray.spaces.nb101.plan import (
    CONV1X1,
    CONV3X3,
    MAXPOOL3X3,
    compute_vertex_channels,
    nb101_costs,
    validate_spec,
)
from cbred_ray.stats.cost import macs, params

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
NB101_TABLE = SHARED / "nb101" / "nb101_test_accuracy.parquet"


def matrix_of(num_vertices: int, edges: list[tuple[int, int]]) -> np.ndarray:
    matrix = np.zeros((num_vertices, num_vertices), dtype=np.int8)
    for src, dst in edges:
        matrix[src, dst] = 1
    return matrix


def spec(interior: list[str]) -> list[str]:
    return ["input", *interior, "output"]


CHAIN = matrix_of(4, [(0, 1), (1, 2), (2, 3)])
FAN3 = matrix_of(5, [(0, 1), (0, 2), (0, 3), (1, 4), (2, 4), (3, 4)])
# vertex 1 feeds 2 and 3, which feed the output; the input also feeds 3 and the output.
SPLIT = matrix_of(5, [(0, 1), (1, 2), (1, 3), (2, 4), (3, 4), (0, 3), (0, 4)])
SPLIT_OPS = spec([CONV3X3, MAXPOOL3X3, CONV1X1])
FAN5 = matrix_of(7, [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 6), (2, 6), (3, 6), (4, 6), (5, 6)])
FAN5_OPS = spec([CONV3X3, CONV1X1, MAXPOOL3X3, CONV3X3, CONV1X1])
TWO = matrix_of(2, [(0, 1)])


def v2_params(c: int, classes: int = 10) -> int:
    """By hand: the V=2 cell is a 1x1 Conv-BN-ReLU projection; 3 stacks of 3 cells at c, 2c, 4c."""
    def project(cin, cout):
        return cin * cout + 2 * cout

    stacks = [project(c, c)] * 3 + [project(c, 2 * c)] + [project(2 * c, 2 * c)] * 2
    stacks += [project(2 * c, 4 * c)] + [project(4 * c, 4 * c)] * 2
    return 27 * c + 2 * c + sum(stacks) + 4 * c * classes + classes


def v2_macs(c: int, classes: int = 10) -> int:
    sides = [32] * 3 + [16] * 3 + [8] * 3
    widths = [(c, c)] * 3 + [(c, 2 * c)] + [(2 * c, 2 * c)] * 2 + [(2 * c, 4 * c)] + [(4 * c, 4 * c)] * 2
    return 32 * 32 * 27 * c + sum(s * s * a * b for s, (a, b) in zip(sides, widths)) + 4 * c * classes


# ---------------------------------------------------------------- channel plan


@pytest.mark.parametrize(
    ("matrix", "c_in", "c_out", "expected"),
    [
        (TWO, 64, 128, [64, 128]),  # V == 2: no interior vertex
        (CHAIN, 64, 128, [64, 128, 128, 128]),  # the only feeder takes all; vertex 1 the max of its successor
        (FAN3, 128, 128, [128, 43, 43, 42, 128]),  # 128 = 3 x 42 + 2: the first two feeders get one more
        (SPLIT, 4, 11, [4, 6, 6, 5, 11]),  # input -> output edge ignored: 11 = 6 + 5; vertex 1 = max(6, 5)
        (FAN5, 128, 256, [128, 52, 51, 51, 51, 51, 256]),  # 256 = 5 x 51 + 1
    ],
)
def test_vertex_channels_follow_the_official_rule(matrix, c_in, c_out, expected):
    assert compute_vertex_channels(c_in, c_out, matrix) == expected


def test_vertex_channels_sum_to_the_output():
    channels = compute_vertex_channels(7, 13, FAN5)
    assert sum(channels[1:-1]) == 13 and channels == [7, 3, 3, 3, 2, 2, 13]


# ---------------------------------------------------------------- wiring and forward


def test_cell_wiring_by_hand():
    torch.manual_seed(0)
    matrix, _ = validate_spec(SPLIT, SPLIT_OPS)
    cell = NB101Cell(matrix, SPLIT_OPS, 4, 11).eval()
    x = torch.randn(2, 4, 8, 8)
    proj, op = cell.projections, cell.vertex_ops
    with torch.no_grad():
        v1 = op["vertex_1"](proj["vertex_1"](x))
        v2 = op["vertex_2"](v1)
        v3 = op["vertex_3"](v1[:, :5] + proj["vertex_3"](x))  # 6 channels truncated to 5
        expected = torch.cat([v2, v3], 1) + proj["output"](x)
        got = cell(x)
    assert v1.shape[1] == 6 and got.shape == (2, 11, 8, 8)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    assert "vertex_2" not in proj  # the input does not feed vertex 2: no projection there


def test_v2_output_is_the_projection_alone():
    torch.manual_seed(0)
    matrix, ops = validate_spec(TWO, spec([]))
    cell = NB101Cell(matrix, ops, 3, 5).eval()
    x = torch.randn(1, 3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(cell(x), cell.projections["output"](x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("matrix", "ops"),
    [(TWO, spec([])), (CHAIN, spec([MAXPOOL3X3, MAXPOOL3X3])), (SPLIT, SPLIT_OPS), (FAN5, FAN5_OPS)],
)
def test_forward_gives_finite_logits(matrix, ops):
    torch.manual_seed(0)
    net = build_nb101_network(matrix, ops, stem_channels=16)
    logits = net(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()


@pytest.mark.parametrize("width", [5, 7, 8])
def test_small_widths_build_and_run(width):
    net = build_nb101_network(FAN5, FAN5_OPS, stem_channels=width, num_classes=3)
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 3)


def test_width_below_the_output_fan_in_is_refused():
    with pytest.raises(BadInput, match="too few"):
        build_nb101_network(FAN5, FAN5_OPS, stem_channels=4)


def test_same_seed_same_network():
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    nets = []
    for seed in (3, 3, 4):
        torch.manual_seed(seed)
        nets.append(build_nb101_network(SPLIT, SPLIT_OPS, stem_channels=8))
    same, other = nets[0].state_dict(), nets[2].state_dict()
    assert all(torch.equal(value, nets[1].state_dict()[name]) for name, value in same.items())
    assert not all(torch.equal(value, other[name]) for name, value in same.items())
    with torch.no_grad():
        assert torch.equal(nets[0](x), nets[1](x))
        assert not torch.equal(nets[0](x), nets[2](x))


def test_macs_equal_the_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode

    net = build_nb101_network(SPLIT, SPLIT_OPS, stem_channels=8).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(torch.zeros(1, 3, 32, 32))
    assert macs(net) == counter.get_total_flops() / 2


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize("width", [128, 16])
def test_v2_counts_by_hand(width):
    net = build_nb101_network(TWO, spec([]), stem_channels=width)
    closed_params, closed_macs = nb101_costs([TWO], [spec([])], stem_channels=width)
    assert params(net) == closed_params[0] == v2_params(width)
    assert macs(net) == closed_macs[0] == v2_macs(width)


def test_v2_matches_the_benchmark_size():
    # the benchmark's network for the input -> output cell (its table's trainable_parameters)
    assert v2_params(128) == 882_570


def test_closed_form_handles_mixed_vertex_counts_and_flat_matrices():
    cells = [(FAN5, FAN5_OPS), (TWO, spec([])), (SPLIT.ravel(), SPLIT_OPS), (CHAIN.tolist(), spec([CONV3X3, CONV1X1]))]
    closed_params, closed_macs = nb101_costs([m for m, _ in cells], [o for _, o in cells], stem_channels=8)
    for (matrix, ops), p, m in zip(cells, closed_params, closed_macs):
        net = build_nb101_network(matrix, ops, stem_channels=8)
        assert (params(net), macs(net)) == (p, m)


@pytest.fixture(scope="module")
def nb101_sample():
    """~40 seeded cells of the table: all vertex counts, several with an input -> output edge."""
    if not NB101_TABLE.is_file():
        pytest.skip("NB101 table not present beside the checkout")
    import pandas as pd

    table = pd.read_parquet(NB101_TABLE, columns=["num_vertices", "module_adjacency", "module_operations",
                                                  "trainable_parameters"])
    rng = np.random.default_rng(0)
    picks = []
    for num_vertices, group in table.groupby("num_vertices"):
        picks.extend(rng.choice(group.index, size=min(len(group), 6), replace=False))
    skip = np.array([m.reshape(round(len(m) ** 0.5), -1)[0, -1] == 1 for m in table["module_adjacency"]])
    picks.extend(rng.choice(np.flatnonzero(skip & (table["num_vertices"].to_numpy() >= 5)), size=8, replace=False))
    sample = table.loc[sorted(set(picks))]
    assert set(sample["num_vertices"]) == {2, 3, 4, 5, 6, 7}
    return sample


def test_built_network_has_the_benchmark_parameters(nb101_sample):
    for row in nb101_sample.itertuples():
        net = build_nb101_network(row.module_adjacency, row.module_operations)
        assert params(net) == row.trainable_parameters, row.Index


@pytest.mark.parametrize("width", [128, 16])
def test_closed_form_equals_built_network(nb101_sample, width):
    closed_params, closed_macs = nb101_costs(nb101_sample["module_adjacency"], nb101_sample["module_operations"],
                                             stem_channels=width)
    if width == 128:
        np.testing.assert_array_equal(closed_params, nb101_sample["trainable_parameters"].to_numpy())
    step = 1 if width == 16 else 3  # the widest MAC count is a full-width forward pass: a third of the cells
    for position, row in enumerate(nb101_sample.itertuples()):
        net = build_nb101_network(row.module_adjacency, row.module_operations, stem_channels=width)
        assert params(net) == closed_params[position], row.Index
        if position % step == 0:
            assert macs(net) == closed_macs[position], row.Index


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("matrix", "ops", "match"),
    [
        (np.zeros((3, 4)), spec([CONV3X3]), "square"),
        (np.ones(5), spec([CONV3X3]), "V\\*V"),
        (CHAIN.T, spec([CONV3X3, CONV3X3]), "upper-triangular"),
        (CHAIN + np.eye(4, dtype=np.int8), spec([CONV3X3, CONV3X3]), "upper-triangular"),
        (CHAIN * 2, spec([CONV3X3, CONV3X3]), "0 or 1"),
        (CHAIN, spec([CONV3X3, "conv5x5-bn-relu"]), "unknown"),
        (CHAIN, spec([CONV3X3]), "needs 4 ops"),
        (CHAIN, [CONV3X3, CONV3X3, CONV3X3, "output"], "start with"),
        (matrix_of(4, [(0, 1), (1, 3), (0, 2)]), spec([CONV3X3, CONV3X3]), "vertex 2 is not on"),
        (matrix_of(2, []), spec([]), "vertex 0 is not on"),
        (np.zeros((1, 1)), ["input"], "at least 2"),
    ],
)
def test_bad_spec(matrix, ops, match):
    with pytest.raises(BadInput, match=match):
        build_nb101_network(matrix, ops)
    with pytest.raises(BadInput, match=match):
        nb101_costs([CHAIN, matrix], [spec([CONV1X1, CONV1X1]), ops])


def test_closed_form_names_the_bad_cell():
    with pytest.raises(BadInput, match="cell 1: unknown"):
        nb101_costs([CHAIN, CHAIN], [spec([CONV1X1, CONV1X1]), spec([CONV1X1, "conv"])])
    with pytest.raises(BadInput, match="2 matrices but 1"):
        nb101_costs([CHAIN, CHAIN], [spec([CONV1X1, CONV1X1])])


@pytest.mark.parametrize("bad", [{"stem_channels": 0}, {"num_classes": -1}, {"num_stacks": 1.5}, {"cells_per_stack": 0}])
def test_bad_sizes(bad):
    with pytest.raises(BadInput):
        build_nb101_network(CHAIN, spec([CONV1X1, CONV1X1]), **bad)
    with pytest.raises(BadInput):
        nb101_costs([CHAIN], [spec([CONV1X1, CONV1X1])], **bad)


def test_every_statistic_but_linear_regions_computes_on_an_nb101_network():
    from stats_helpers import batch16, labels16

    from cbred_ray.spaces.nb101.network import NB101Networks
    from cbred_ray.stats import STATISTICS, compute_stats

    matrix = ((0, 1, 1, 0, 0), (0, 0, 0, 1, 0), (0, 0, 0, 1, 0), (0, 0, 0, 0, 1), (0, 0, 0, 0, 0))
    ops = ("input", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu", "output")
    names = [name for name in STATISTICS if name != "linear_regions"]
    results = compute_stats(NB101Networks(matrix, ops, width=4), names, batch16(), seed=0, num_classes=10,
                            labels=labels16(10))
    assert all(reason is None for _, reason in results.values()), {n: r for n, (_, r) in results.items() if r}
