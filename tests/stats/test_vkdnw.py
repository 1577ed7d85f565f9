"""VKDNW: its Fisher information's factor, its per-image Jacobian, its entropy and its order of networks."""
import math

import numpy as np
import pytest
import torch

from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.network import build_network
from cbred_ray.stats.reinit import gaussian_inputs, kaiming_fan_in_copy
from cbred_ray.stats.vkdnw import (
    KEEP,
    SMOOTHING,
    _functional_jacobian,
    covariance_factor,
    decile_entropy,
    element_jacobian,
    vkdnw_pass,
    vkdnw_score,
)

CELLS = ("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|",
         "|avg_pool_3x3~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|nor_conv_1x1~1|avg_pool_3x3~2|")


def _net(arch: str, classes: int = 10) -> torch.nn.Module:
    return build_network(nb201.op_names(nb201.parse(arch)), classes)


def test_the_factor_is_lower_triangular_and_factors_the_smoothed_softmax_covariance():
    logits = torch.randn(5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    factor = covariance_factor(logits)
    p = torch.softmax(logits, dim=1) * KEEP + SMOOTHING / 7
    covariance = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    assert torch.equal(factor, torch.tril(factor)) and torch.all(factor[:, :, -1] == 0)
    # the reference's smoothing is held in float16, so p sums to 1.0002, not 1: L Lᵀ is the covariance to that
    assert torch.allclose(factor @ factor.transpose(1, 2), covariance, atol=1e-3)


@pytest.mark.parametrize("arch", CELLS)
def test_the_per_image_jacobian_is_the_one_torch_func_computes(arch):
    net = kaiming_fan_in_copy(_net(arch), torch.Generator().manual_seed(0)).eval().double()
    x = gaussian_inputs(4, torch.Generator().manual_seed(1), "cpu").double()
    chosen = list(dict(net.named_parameters()))[:128]  # the last batch norm's output is overwritten in place
    logits, fast = element_jacobian(net, x, chosen)
    reference_logits, reference = _functional_jacobian(net, x, chosen)
    assert fast.shape == (4, 10, len(chosen))
    torch.testing.assert_close(fast, reference, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(logits, reference_logits)


def test_the_entropy_of_the_deciles():
    assert decile_entropy(torch.ones(50, dtype=torch.float64)) == pytest.approx(math.log(9))
    assert decile_entropy(torch.zeros(50, dtype=torch.float64)) == 0.0
    spread = decile_entropy(torch.logspace(-6, 0, 50, dtype=torch.float64))
    assert 0.0 < spread < math.log(9)


def test_networks_are_ordered_by_their_parameter_tensors_then_by_the_entropy():
    results = [vkdnw_pass(_net(arch), batch_size=8, generator=torch.Generator().manual_seed(2)) for arch in CELLS]
    for arch, result in zip(CELLS, results):
        assert result.tensors == len(list(_net(arch).parameters()))  # ℵ: 21 + 45 per convolution edge
        assert result.tensors <= vkdnw_score(result) < result.tensors + 1
    (fewer, more) = sorted(results, key=lambda r: r.tensors)
    assert fewer.tensors < more.tensors and vkdnw_score(fewer) < vkdnw_score(more)


def test_the_value_depends_on_the_seed_not_on_what_the_shared_network_ran_before():
    net = _net(CELLS[0])
    before = vkdnw_pass(net, batch_size=8, generator=torch.Generator().manual_seed(3))
    net.train()(torch.randn(8, 3, 32, 32) * 5 + 2)  # another statistic's train-mode pass moves the BN statistics
    after = vkdnw_pass(net, batch_size=8, generator=torch.Generator().manual_seed(3))
    assert after == before
    assert vkdnw_pass(net, batch_size=8, generator=torch.Generator().manual_seed(4)) != before
    assert np.isfinite(before.entropy)
