import math

import pytest
import torch
from stats_helpers import SMALL, small_net

from cbred_ray.spaces.cell.network import build_network
from cbred_ray.stats import STATISTICS, StatisticFailed
from cbred_ray.stats.ntk import ntk_cond, ntk_matrix

BATCH = 4


def batch4() -> torch.Tensor:
    """16 x 16 images: the network pools globally, and the NTK's correctness does not depend
    on the image size, while the test time does."""
    return torch.randn(BATCH, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def reference_ntk(net: torch.nn.Module, x: torch.Tensor, train_mode: bool, weights_only: bool = True) -> torch.Tensor:
    """TE-NAS ``get_ntk_n`` as a loop: one forward of the batch, then per sample
    ``logit[i:i+1].backward(ones)`` and the gradients of the "weight" parameters."""
    net.train(train_mode)
    logit = net(x)
    rows = []
    for i in range(len(x)):
        net.zero_grad(set_to_none=True)
        logit[i : i + 1].backward(torch.ones_like(logit[i : i + 1]), retain_graph=True)
        rows.append(torch.cat([
            w.grad.reshape(-1) for name, w in net.named_parameters()
            if (not weights_only or "weight" in name) and w.grad is not None
        ]))
    net.zero_grad(set_to_none=True)
    grads = torch.stack(rows).double()
    return grads @ grads.T


@pytest.mark.parametrize(("train_mode", "weights_only"), [(True, True), (False, True), (True, False)])
def test_matches_the_reference_loop(train_mode, weights_only):
    net, x = small_net(), batch4()
    theta = ntk_matrix(net, x, train_mode=train_mode, weights_only=weights_only)
    expected = reference_ntk(net, x, train_mode, weights_only)
    scale = float(expected.abs().max())
    assert theta.dtype == torch.float64 and theta.shape == (BATCH, BATCH)
    assert torch.allclose(theta, expected, rtol=1e-4, atol=1e-5 * scale)
    eig = torch.linalg.eigvalsh(expected)
    value = ntk_cond(net, x, train_mode=train_mode, weights_only=weights_only)
    assert value == pytest.approx(float(eig[-1] / eig[0]), rel=1e-3)


def test_chunk_size_changes_nothing_but_cost():
    net, x = small_net(), batch4()
    theta = ntk_matrix(net, x, chunk_size=1)
    for chunk in (4, None):
        assert torch.allclose(ntk_matrix(net, x, chunk_size=chunk), theta, rtol=1e-5, atol=1e-6 * float(theta.abs().max()))


def test_train_and_eval_mode_differ():
    net, x = small_net(), batch4()
    assert ntk_cond(net, x, train_mode=True) != pytest.approx(ntk_cond(net, x, train_mode=False), rel=1e-3)


def test_registry_orientation():
    stat = STATISTICS["ntk_cond"]
    assert stat.fn is ntk_cond
    assert not stat.higher_is_better and stat.needs_batch and stat.kind == "quality"


def test_deterministic():
    x = batch4()
    assert ntk_cond(small_net(), x) == ntk_cond(small_net(), x)


@pytest.mark.parametrize("train_mode", [True, False])
def test_network_is_unchanged(train_mode):
    net, x = small_net(), batch4()
    for mode in (True, False):
        net.train(mode)
        before = {key: v.clone() for key, v in net.state_dict().items()}
        ntk_cond(net, x, train_mode=train_mode)
        assert net.training == mode and all(m.training == mode for m in net.modules())
        assert all(torch.equal(before[key], v) for key, v in net.state_dict().items())
        assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("train_mode", [True, False])
def test_all_none_cell_is_singular(train_mode):
    net = build_network(["none"] * 6, **SMALL)  # no weight moves the output: Θ = 0
    with pytest.raises(StatisticFailed):
        ntk_cond(net, batch4(), train_mode=train_mode)


@pytest.mark.parametrize("ops", [["skip_connect"] * 6, ["avg_pool_3x3"] * 6, ["none"] * 5 + ["nor_conv_1x1"]])
def test_degenerate_cells_give_a_finite_positive_value_or_fail(ops):
    net = build_network(ops, **SMALL)
    try:
        value = ntk_cond(net, batch4())
    except StatisticFailed:
        return
    assert math.isfinite(value) and value >= 1.0


def test_repeated_sample_is_singular_or_huge():
    x = batch4()
    x[1] = x[0]  # two equal rows of the Jacobian: λ_min = 0 up to rounding
    try:
        value = ntk_cond(small_net(), x, train_mode=False)
    except StatisticFailed:
        return
    assert value > 1e5
