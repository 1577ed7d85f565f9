import math

import pytest
import torch
from stats_helpers import SMALL, batch16, small_net
from torch import nn

from cbred_ray.spaces.cell.network import build_network
from cbred_ray.stats import StatisticFailed, naswot_v2
from cbred_ray.stats.naswot import relu_code_kernel


class SharedInputNet(nn.Module):
    """Two ReLUs read the same tensor (as edges leaving one NB201 node do)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(5, 7), nn.Linear(7, 4)
        self.relu_a, self.relu_b, self.relu_c = nn.ReLU(), nn.ReLU(), nn.ReLU()

    def forward(self, x):
        h = self.fc1(x)
        return self.relu_c(self.fc2(self.relu_a(h) + self.relu_b(h)))


def brute_force_naswot(net: SharedInputNet, x: torch.Tensor) -> float:
    """Codes by hand, K[i, j] = units - Hamming distance, then log|det K|."""
    h = net.fc1(x)
    g = net.fc2(torch.relu(h) + torch.relu(h))
    codes = torch.cat([h > 0, h > 0, g > 0], dim=1).double()
    units = codes.shape[1]
    hamming = torch.tensor([[float((codes[i] != codes[j]).sum()) for j in range(len(x))] for i in range(len(x))])
    kernel = units - hamming.double()
    return float(torch.linalg.slogdet(kernel).logabsdet)


def test_naswot_matches_brute_force_hamming_kernel():
    torch.manual_seed(0)
    net, x = SharedInputNet(), torch.randn(6, 5)
    with torch.no_grad():
        expected = brute_force_naswot(net, x)
    assert math.isclose(naswot_v2(net, x), expected, rel_tol=1e-12, abs_tol=1e-9)


def test_kernel_diagonal_counts_all_relu_units():
    net = small_net()
    batch = batch16()
    kernel = relu_code_kernel(net, batch)
    assert kernel.dtype == torch.float64
    assert torch.equal(kernel, kernel.T)
    assert torch.all(kernel.diagonal() == kernel.diagonal()[0])
    assert torch.all(kernel <= kernel.diagonal()[0])


def test_naswot_restores_mode_and_running_stats():
    net = small_net()
    batch = batch16()
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    naswot_v2(net, batch, train_mode=True)
    assert not net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not any(m._forward_hooks for m in net.modules())


def test_train_and_eval_mode_differ():
    net = small_net()
    batch = batch16()
    assert naswot_v2(net, batch, train_mode=True) != naswot_v2(net, batch, train_mode=False)


def test_all_none_cell_has_singular_kernel():
    batch = batch16()
    with pytest.raises(StatisticFailed):
        naswot_v2(build_network(["none"] * 6, **SMALL), batch)
