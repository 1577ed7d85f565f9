import copy
import math

import pytest
import torch
from stats_helpers import SMALL, small_net
from torch import nn

from cbred_ray.spaces.cell.network import build_network
from cbred_ray.stats import StatisticFailed, logsynflow, synflow
from cbred_ray.stats.synflow import synflow_terms


def test_terms_match_hand_computation():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    w1, b1, w2 = (t.detach().abs().double() for t in (net[0].weight, net[0].bias, net[2].weight))
    hidden = w1.sum(1) + b1  # all-ones input, positive weights: the ReLU passes everything
    (t1, g1), (t2, g2) = synflow_terms(net, input_shape=(1, 4))
    assert torch.allclose(g1, w2.T.expand(3, 4))
    assert torch.allclose(g2, hidden[None, :])
    assert torch.equal(t1, w1) and torch.equal(t2, w2)


def test_batchnorm_is_disabled_not_eval():
    torch.manual_seed(0)
    net = build_network(["nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none", "nor_conv_3x3"], **SMALL)
    stripped = copy.deepcopy(net)
    for module in list(stripped.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(module, name, nn.Identity())
    assert synflow(net) == pytest.approx(synflow(stripped), rel=1e-12)
    assert logsynflow(net) == pytest.approx(logsynflow(stripped), rel=1e-12)


def test_synflow_does_not_change_the_network():
    net = small_net()
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    synflow(net)
    logsynflow(net)
    after = net.state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].dtype == before[k].dtype for k in before)
    assert not net.training
    assert all(p.grad is None for p in net.parameters())
    assert not any("forward" in vars(m) for m in net.modules())


def test_values_are_finite_and_synflow_is_a_log():
    net = small_net()
    value = synflow(net)
    assert math.isfinite(value) and 0 < value < 700  # ln of a float64
    assert logsynflow(net) > 0


def test_disconnected_cell_has_zero_synflow():
    net = build_network(["nor_conv_3x3"] * 3 + ["none"] * 3, **SMALL)
    with pytest.raises(StatisticFailed):
        synflow(net)
    assert logsynflow(net) == 0.0
