import math

import numpy as np
import pytest
import torch
from stats_helpers import SMALL, small_net

from cbred_ray.spaces.cell.network import build_network
from cbred_ray.stats import STATISTICS, StatisticFailed
from cbred_ray.stats.naswot import input_jacobians, naswot_v1

BATCH = 8  # Σ is 8 x 8 and full rank: no eigenvalue near -k, where the score is ill-conditioned


def batch8() -> torch.Tensor:
    """16 x 16 images (768 input features): the network pools globally, and correctness does
    not depend on the image size, while the test time does."""
    return torch.randn(BATCH, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def per_sample_jacobians(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Brute force, eval mode: one autograd call per sample, gradient of its summed outputs."""
    rows = []
    for sample in x:
        sample = sample[None].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(sample).sum(), sample)
        rows.append(g.reshape(-1))
    return torch.stack(rows)


def reference_batch_jacobians(net: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The v1 reference code (``get_batch_jacobian``): y.backward(ones) on the whole batch."""
    x = x.clone().requires_grad_(True)
    y = net(x)
    y.backward(torch.ones_like(y))
    net.zero_grad(set_to_none=True)
    return x.grad.detach().reshape(len(x), -1)


def reference_eval_score(jacob: np.ndarray, k: float = 1e-5) -> float:
    """The v1 reference ``eval_score``: np.corrcoef, np.linalg.eig, k = 1e-5."""
    corrs = np.corrcoef(jacob)
    v, _ = np.linalg.eig(corrs)
    return float(np.real(-np.sum(np.log(v + k) + 1.0 / (v + k))))


def test_eval_mode_matches_a_per_sample_loop():
    net, x = small_net(), batch8()
    jac = input_jacobians(net, x, train_mode=False)
    net.eval()
    brute = per_sample_jacobians(net, x)
    assert torch.allclose(jac, brute, rtol=1e-5, atol=1e-6 * float(brute.abs().max()))
    expected = reference_eval_score(brute.double().numpy())
    assert naswot_v1(net, x, train_mode=False) == pytest.approx(expected, rel=1e-6)


def test_train_mode_matches_the_reference_backward_of_the_summed_batch():
    net, x = small_net(), batch8()
    value = naswot_v1(net, x, train_mode=True)
    net.train()
    brute = reference_batch_jacobians(net, x)
    assert value == pytest.approx(reference_eval_score(brute.double().numpy()), rel=1e-6)
    assert value != pytest.approx(naswot_v1(net, x, train_mode=False), rel=1e-3)


def test_published_default_is_train_mode():
    net, x = small_net(), batch8()
    assert naswot_v1(net, x) == naswot_v1(net, x, train_mode=True)


def test_one_pass_gives_the_kernel_and_the_jacobians_of_the_separate_passes():
    from cbred_ray.stats.naswot import naswot_pass, relu_code_kernel

    net, x = small_net(), batch8()
    both = naswot_pass(net, x)
    assert torch.equal(both.kernel, relu_code_kernel(net, x))
    assert torch.equal(both.jacobians, input_jacobians(net, x))
    assert naswot_pass(net, x, codes=False).kernel is None and naswot_pass(net, x, jacobians=False).jacobians is None


def test_k_is_a_parameter():
    net, x = small_net(), batch8()
    jac = input_jacobians(net, x).double().numpy()
    assert naswot_v1(net, x, k=1e-3) == pytest.approx(reference_eval_score(jac, k=1e-3), rel=1e-6)


def test_registry_orientation():
    stat = STATISTICS["naswot_v1"]
    assert stat.fn is naswot_v1
    assert stat.higher_is_better and stat.needs_batch and stat.kind == "quality"


def test_deterministic():
    x = batch8()
    assert naswot_v1(small_net(), x) == naswot_v1(small_net(), x)
    assert naswot_v1(small_net(), x, train_mode=True) == naswot_v1(small_net(), x, train_mode=True)


@pytest.mark.parametrize("train_mode", [False, True])
def test_network_is_unchanged(train_mode):
    net, x = small_net(), batch8()
    for mode in (True, False):
        net.train(mode)
        before = {key: v.clone() for key, v in net.state_dict().items()}
        naswot_v1(net, x, train_mode=train_mode)
        assert net.training == mode and all(m.training == mode for m in net.modules())
        assert all(torch.equal(before[key], v) for key, v in net.state_dict().items())
        assert all(p.grad is None for p in net.parameters())


@pytest.mark.parametrize("train_mode", [False, True])
def test_all_none_cell_fails_cleanly(train_mode):
    net = build_network(["none"] * 6, **SMALL)  # output independent of the input: J = 0
    with pytest.raises(StatisticFailed):
        naswot_v1(net, batch8(), train_mode=train_mode)


@pytest.mark.parametrize("ops", [["skip_connect"] * 6, ["avg_pool_3x3"] * 6, ["none"] * 5 + ["nor_conv_1x1"]])
def test_degenerate_cells_give_a_finite_value_or_fail(ops):
    net = build_network(ops, **SMALL)
    try:
        value = naswot_v1(net, batch8())
    except StatisticFailed:
        return
    assert math.isfinite(value)


def test_single_sample_fails():
    with pytest.raises(StatisticFailed):
        naswot_v1(small_net(), batch8()[:1])
