"""The zero-cost set's statistics: l2_norm by hand on a small network, jacov as NASWOT v1 on the
set's 64 images."""
import pytest
import torch
from torch import nn

from cbred_ray.stats import compute_stats, load_batch
from cbred_ray.stats.engine import effective_settings
from cbred_ray.stats.meco import meco
from cbred_ray.stats.zero_cost import l2_norm

CELL = ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "none")


def _small() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))


def test_l2_norm_sums_the_frobenius_norms_of_conv_and_linear_weights_only():
    net = _small()
    with torch.no_grad():
        by_hand = float(torch.sqrt((net[0].weight ** 2).sum()) + torch.sqrt((net[4].weight ** 2).sum()))
    assert l2_norm(net) == pytest.approx(by_hand, rel=1e-6)
    with torch.no_grad():  # biases and BatchNorm parameters do not count
        net[0].bias.add_(5.0)
        net[1].weight.mul_(3.0)
        net[4].bias.add_(1.0)
    assert l2_norm(net) == pytest.approx(by_hand, rel=1e-6)
    with torch.no_grad():
        net[4].weight.mul_(2.0)  # one layer's norm doubles: the sum grows by that norm
        doubled = float(torch.sqrt((net[4].weight ** 2).sum()))
    assert l2_norm(net) == pytest.approx(by_hand + doubled / 2, rel=1e-6)


def test_l2_norm_needs_no_batch_and_jacov_reads_the_sets_64_images():
    settings = effective_settings(["jacov", "naswot_v1", "l2_norm"])
    assert settings["jacov"]["images"] == 64 and settings["naswot_v1"]["images"] == 128
    [value, reason] = compute_stats(CELL, ["l2_norm"], None, seed=1, channels=8, cells_per_stage=1)["l2_norm"]
    assert reason is None and value > 0


def test_jacov_is_naswot_v1_on_the_first_64_images():
    batch, _, _ = load_batch(None, 128, seed=2)
    stats = compute_stats(CELL, ["jacov", "naswot_v1"], batch, seed=1, channels=8, cells_per_stage=1)
    at_64 = compute_stats(CELL, ["naswot_v1"], batch, seed=1, channels=8, cells_per_stage=1,
                          options={"naswot_v1": {"batch_size": 64}})
    assert stats["jacov"][0] == pytest.approx(at_64["naswot_v1"][0], rel=1e-6)
    assert stats["jacov"][0] != pytest.approx(stats["naswot_v1"][0], rel=1e-3)  # 64 images, not 128


def _min_eig_of_channel_correlation(feature):
    rows = feature.reshape(feature.shape[0], -1).double()
    corr = torch.nan_to_num(torch.corrcoef(rows), nan=0.0, posinf=0.0, neginf=0.0)
    return float(torch.linalg.eigvalsh(corr)[0])


def test_meco_sums_each_modules_smallest_channel_correlation_eigenvalue_for_the_first_image():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    batch = torch.randn(3, 3, 8, 8)
    with torch.no_grad():
        conv = net[0](batch[:1])[0]
        relu = torch.relu(conv)
    # hooks: the root (its output is the ReLU's), the convolution, the ReLU
    by_hand = _min_eig_of_channel_correlation(conv) + 2 * _min_eig_of_channel_correlation(relu)
    assert meco(net, batch) == pytest.approx(by_hand, rel=1e-9)
    other = batch.clone()
    other[1:] = torch.randn(2, 3, 8, 8)  # only the first image is read
    assert meco(net, other) == pytest.approx(by_hand, rel=1e-9)
    assert -1e-9 <= by_hand <= 3.0  # each λ_min of a 4x4 correlation matrix lies in [0, 1]


def test_a_linear_output_adds_nothing_to_meco():
    torch.manual_seed(0)
    conv_only = nn.Sequential(nn.Conv2d(3, 4, 3))
    with_head = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    with_head[0].load_state_dict(conv_only[0].state_dict())
    batch = torch.randn(1, 3, 8, 8)
    conv = _min_eig_of_channel_correlation(conv_only[0](batch)[0].detach())
    # conv_only: root + conv; with_head: conv, then Flatten and Linear and the root, (K,) maps that add 0
    assert meco(conv_only, batch) == pytest.approx(2 * conv, rel=1e-9)
    assert meco(with_head, batch) == pytest.approx(conv, rel=1e-9)
