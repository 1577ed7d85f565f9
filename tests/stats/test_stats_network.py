import numpy as np
import pytest
import torch
from stats_helpers import ALL_CONV, MIXED, SMALL, small_net

from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell.network import build_network
from cbred_ray.stats import macs, params


def nb201_all_conv3x3_params(c: int, n: int, classes: int) -> int:
    """Independent count for the all-nor_conv_3x3 cell: conv weights + BN affine pairs."""
    conv3 = lambda cin, cout: 9 * cin * cout  # noqa: E731
    cell = lambda w: 6 * (conv3(w, w) + 2 * w)  # noqa: E731
    reduction = lambda cin, cout: conv3(cin, cout) + 2 * cout + conv3(cout, cout) + 2 * cout + cin * cout  # noqa: E731
    stem = conv3(3, c) + 2 * c
    head = 2 * 4 * c + 4 * c * classes + classes
    return stem + n * (cell(c) + cell(2 * c) + cell(4 * c)) + reduction(c, 2 * c) + reduction(2 * c, 4 * c) + head


def nb201_all_conv3x3_macs(c: int, n: int, classes: int) -> int:
    """Independent MAC count (convolutions and classifier) for one 32x32 image."""
    conv = lambda cin, cout, k, side: cin * cout * k * k * side * side  # noqa: E731
    total = conv(3, c, 3, 32) + c * 4 * classes
    for width, side in ((c, 32), (2 * c, 16), (4 * c, 8)):
        total += n * 6 * conv(width, width, 3, side)
        if width > c:
            total += conv(width // 2, width, 3, side) + conv(width, width, 3, side) + conv(width // 2, width, 1, side)
    return total


def test_output_shape():
    net = small_net()
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 100)
    assert build_network(MIXED, num_classes=10, **SMALL)(torch.randn(3, 3, 32, 32)).shape == (3, 10)


def test_params_match_published_nb201_size():
    # NB201 reports 1.5374 MB of parameters for its largest CIFAR-100 network.
    net = build_network(ALL_CONV)
    assert params(net) == nb201_all_conv3x3_params(16, 5, 100) == 1_537_396


def test_params_formula_small():
    assert params(build_network(ALL_CONV, num_classes=10, channels=8, cells_per_stage=2)) == (
        nb201_all_conv3x3_params(8, 2, 10)
    )


def test_macs_match_formula():
    assert macs(build_network(ALL_CONV)) == nb201_all_conv3x3_macs(16, 5, 100) == 220_125_440


@pytest.mark.parametrize("ops", [MIXED, ["none", "avg_pool_3x3", "nor_conv_1x1", "skip_connect", "none", "nor_conv_3x3"]])
def test_macs_equal_the_flop_counter(ops):
    from torch.utils.flop_counter import FlopCounterMode

    net = build_network(ops, channels=8, cells_per_stage=2)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net.eval()(torch.zeros(1, 3, 32, 32))
    assert macs(net) == counter.get_total_flops() / 2


def test_macs_leaves_network_unchanged():
    net = small_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    macs(net)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].device.type == "cpu" for k in before)
    assert not any("forward" in vars(m) for m in net.modules())


def test_none_cell_runs_and_gives_constant_logits():
    net = build_network(["none"] * 6, **SMALL)
    out = net(torch.randn(4, 3, 32, 32))
    assert out.shape == (4, 100)
    assert torch.allclose(out, net.classifier.bias.expand(4, -1))


def test_none_edges_are_skipped_but_nodes_stay_shaped():
    net = build_network(["nor_conv_1x1", "none", "none", "none", "skip_connect", "none"], **SMALL)
    assert torch.isfinite(net(torch.randn(2, 3, 32, 32))).all()


def test_same_seed_same_weights():
    torch.manual_seed(3)
    a = build_network(MIXED, **SMALL)
    torch.manual_seed(3)
    b = build_network(MIXED, **SMALL)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters()))


@pytest.mark.parametrize("ops", [["nor_conv_3x3"] * 5, ["nor_conv_3x3"] * 5 + ["conv_5x5"]])
def test_bad_cell_is_bad_input(ops):
    with pytest.raises(BadInput):
        build_network(ops)


def test_closed_form_costs_equal_the_built_networks():
    from cbred_ray.spaces.cell import nb201
    from cbred_ray.spaces.cell.canonical import canonical_cells
    from cbred_ray.spaces.cell.cost import cell_costs

    rng = np.random.default_rng(0)
    cells = canonical_cells(nb201.cells_of(rng.choice(nb201.SPACE_SIZE, 12, replace=False)))
    p, m = cell_costs(nb201.SPACE, cells)
    for cell, expected_p, expected_m in zip(cells, p, m):
        net = build_network(nb201.op_names(cell))
        assert (params(net), macs(net)) == (expected_p, expected_m)
    assert cell_costs(nb201.SPACE, np.full((1, 6), nb201.CONV3))[0][0] == 1_537_396  # every edge counted as given
