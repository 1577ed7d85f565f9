import math

import pytest
import torch
from stats_helpers import ALL_CONV, MIXED, SMALL, batch16
from torch import nn

from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell.network import build_thin_network
from cbred_ray.stats import STATISTICS, StatisticFailed, compute_stats, linear_regions, region_inputs
from cbred_ray.stats.linear_regions import REGION_SAMPLES, _pack_rows, count_patterns

EXACT = {"repeats": 1, "forward_batch": 1_000_000}  # one group, one forward pass


def mlp(widths: list[int], seed: int) -> nn.Sequential:
    """A seeded ReLU MLP with a ReLU after each hidden layer."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(len(widths) - 2):
        layers += [nn.Linear(widths[i], widths[i + 1]), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(widths[-2], widths[-1])).double()


def grid(lo: float, hi: float, n: int) -> torch.Tensor:
    return torch.linspace(lo, hi, n, dtype=torch.float64)[:, None]


def test_one_hidden_layer_on_a_line_matches_the_breakpoints():
    net = mlp([1, 12, 1], seed=3)
    x = grid(-4.0, 4.0, 20001)
    w, b = net[0].weight[:, 0].detach(), net[0].bias.detach()
    knots = (-b / w)[(-b / w > -4.0) & (-b / w < 4.0)]
    assert len(knots) >= 3  # the test is not vacuous
    value = linear_regions(net, x, dtype=torch.float64, **EXACT)
    assert value == len(knots.unique()) + 1


def test_deep_mlp_on_a_line_matches_a_scan_of_the_grid():
    """Each region is convex, so on a line it is one interval: regions = pattern changes + 1."""
    net = mlp([1, 8, 8, 6, 1], seed=4)
    x = grid(-3.0, 3.0, 30001)
    with torch.no_grad():
        h1 = torch.relu(net[0](x))
        h2 = torch.relu(net[2](h1))
        h3 = torch.relu(net[4](h2))
        codes = torch.cat([h1 > 0, h2 > 0, h3 > 0], dim=1)
    changes = int((codes[1:] != codes[:-1]).any(dim=1).sum())
    assert changes >= 5
    assert linear_regions(net, x, dtype=torch.float64, **EXACT) == changes + 1


def test_hand_made_2d_net_has_a_3x3_grid_of_regions():
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 0.0, -1.0, -1.0]))  # ReLU(x), ReLU(y), ReLU(x-1), ReLU(y-1)
    axis = torch.linspace(-2.05, 3.05, 61, dtype=torch.float64)
    points = torch.cartesian_prod(axis, axis)
    assert linear_regions(net, points, dtype=torch.float64, **EXACT) == 9
    assert linear_regions(net, points[points[:, 0] < 0], dtype=torch.float64, **EXACT) == 3


def test_sample_order_and_duplicates_do_not_change_the_count():
    net = mlp([2, 10, 10, 1], seed=5)
    x = torch.randn(500, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    value = linear_regions(net, x, dtype=torch.float64, **EXACT)
    shuffled = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(1))]
    assert linear_regions(net, shuffled, dtype=torch.float64, **EXACT) == value
    assert linear_regions(net, torch.cat([x, x[:200], x]), dtype=torch.float64, **EXACT) == value
    assert 1 < value <= len(x)


def test_repeats_average_the_counts_of_the_groups():
    net = mlp([2, 6, 1], seed=6)
    x = torch.randn(300, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    groups = [linear_regions(net, g, dtype=torch.float64, **EXACT) for g in x.tensor_split(3)]
    assert linear_regions(net, x, dtype=torch.float64, repeats=3, forward_batch=1000) == sum(groups) / 3


def test_float32_net_is_run_in_float64_on_a_copy():
    net = mlp([2, 6, 1], seed=7).float()
    x = torch.randn(100, 2, generator=torch.Generator().manual_seed(3))
    assert linear_regions(net, x, dtype=torch.float64, **EXACT) >= 1
    assert next(net.parameters()).dtype == torch.float32


def test_network_without_relu_fails():
    with pytest.raises(StatisticFailed, match="no ReLU"):
        linear_regions(nn.Linear(2, 1), torch.randn(10, 2), **EXACT)


def test_pack_rows_and_count_patterns():
    codes = torch.tensor([[1, 0, 1, 0, 0, 0, 0, 0, 1], [0] * 9, [1, 0, 1, 0, 0, 0, 0, 0, 1]], dtype=torch.bool)
    assert _pack_rows(codes).tolist() == [[160, 128], [0, 0], [160, 128]]
    assert count_patterns(_pack_rows(codes)) == 2


def test_region_inputs_are_seeded_crops_of_the_batch():
    images = batch16()
    a = region_inputs(500, 3, seed=4, source_batch=images)
    assert a.shape == (500, 1, 3, 3) and a.dtype == torch.float32
    assert torch.equal(a, region_inputs(500, 3, seed=4, source_batch=images))
    assert not torch.equal(a, region_inputs(500, 3, seed=5, source_batch=images))
    windows = images.unfold(2, 3, 1).unfold(3, 3, 1).reshape(-1, 3, 3)  # every 1x3x3 crop
    for crop in a[:20, 0]:
        assert (windows == crop).all(dim=(1, 2)).any()
    gauss = region_inputs(100, 4, seed=4, channels=2)
    assert gauss.shape == (100, 2, 4, 4) and torch.equal(gauss, region_inputs(100, 4, seed=4, channels=2))
    with pytest.raises(BadInput):
        region_inputs(10, 40, seed=0, source_batch=images)


def test_thin_network_is_tenas_c1_n1_depth1_without_stem():
    torch.manual_seed(0)
    net = build_thin_network(MIXED)
    assert len(net.cells) == 1 and isinstance(net.stem, nn.Identity)
    assert {m.in_channels for m in net.modules() if isinstance(m, nn.Conv2d)} == {1}
    assert net(torch.randn(4, 1, 3, 3)).shape == (4, 100)
    torch.manual_seed(0)
    kaiming = build_thin_network(MIXED, init="kaiming_normal_fanin")
    assert float(kaiming.classifier.weight.detach().std()) > 1.0 > float(net.classifier.weight.detach().std())  # N(0, 2/1) vs U(-1, 1)
    assert not kaiming.classifier.bias.any()
    with pytest.raises(BadInput):
        build_thin_network(MIXED, init="xavier")


def test_default_setup_on_nb201_cells_is_finite_and_seeded():
    images = batch16()
    x = region_inputs(seed=0, source_batch=images)
    assert len(x) == REGION_SAMPLES
    torch.manual_seed(0)
    net = build_thin_network(ALL_CONV)
    value = linear_regions(net, x)
    assert math.isfinite(value) and 1 < value <= REGION_SAMPLES / 3
    torch.manual_seed(0)
    assert linear_regions(build_thin_network(ALL_CONV), x) == value
    torch.manual_seed(0)
    empty = build_thin_network(["none"] * 6)
    try:
        assert math.isfinite(linear_regions(empty, x))
    except StatisticFailed:
        pass


def test_compute_stats_with_linear_regions():
    batch = batch16()
    names = ["naswot_v2", "linear_regions", "params"]
    assert STATISTICS["linear_regions"].higher_is_better and STATISTICS["linear_regions"].needs_batch
    assert STATISTICS["linear_regions"].network == "thin"
    results = compute_stats(MIXED, names, batch, seed=0, **SMALL)
    for value, reason in results.values():
        assert reason is None and math.isfinite(value)
    # the standard network is unchanged by building the thin one, and vice versa
    assert compute_stats(MIXED, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"] == results["naswot_v2"]
    assert compute_stats(MIXED, ["linear_regions"], batch, seed=0, **SMALL)["linear_regions"] == results["linear_regions"]
    assert compute_stats(MIXED, ["linear_regions"], batch, seed=1, **SMALL)["linear_regions"] != results["linear_regions"]
    value, reason = compute_stats(["none"] * 6, ["linear_regions"], batch, seed=0, **SMALL)["linear_regions"]
    assert (value is not None and math.isfinite(value)) or reason
    with pytest.raises(BadInput, match="linear_regions"):
        compute_stats(MIXED, ["linear_regions"], None, seed=0)
