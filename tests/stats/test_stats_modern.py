"""Zen-score, AZ-NAS's components, ZiCo and SWAP: their definitions on cases with known answers, their
seeded randomness, and that none of them changes the network it is given."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from stats_helpers import MIXED, SMALL, batch16, labels16, small_net
from torch import nn

from cbred_ray.stats import compute_stats
from cbred_ray.stats.az_nas import AzPass, _block_trainability, _entropy_of_spectrum, progressivity_score
from cbred_ray.stats.engine import random_stream
from cbred_ray.stats.swap import distinct_patterns, swap, swap_regulariser
from cbred_ray.stats.zen import zen
from cbred_ray.stats.zico import zico

RANDOM = ["zen", "az_expressivity", "az_progressivity", "az_trainability", "swap"]


def _state(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_the_network_given_is_not_changed_and_a_seed_gives_one_value():
    net, batch = small_net(), batch16()
    before = _state(net)
    first = compute_stats(MIXED, RANDOM, batch, seed=4, **SMALL)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert zen(net, generator=random_stream(4, "zen")) == zen(net, generator=random_stream(4, "zen"))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    again = compute_stats(MIXED, RANDOM, batch, seed=4, **SMALL)
    other = compute_stats(MIXED, RANDOM, batch, seed=5, **SMALL)
    assert first == again
    assert all(first[name][0] != other[name][0] for name in ("zen", "az_expressivity", "swap"))


def test_expressivity_is_the_entropy_of_the_channel_spectrum():
    generator = torch.Generator().manual_seed(0)
    white = torch.randn(64, 8, 8, 8, generator=generator)  # 8 independent channels of equal variance
    assert _entropy_of_spectrum(white) == pytest.approx(math.log(8), abs=0.01)
    one = torch.zeros(64, 8, 8, 8)
    one[:, 0] = torch.randn(64, 8, 8, generator=generator)  # a single channel carries everything
    assert _entropy_of_spectrum(one) == pytest.approx(0.0, abs=1e-6)
    assert progressivity_score(AzPass([1.0, 3.0, 2.5, 4.0], [])) == pytest.approx(-0.5)


def test_trainability_of_a_scaling_block_and_of_the_identity():
    f_in = torch.randn(64, 4, 8, 8, requires_grad=True)
    doubled = _block_trainability(f_in, 2.0 * f_in, torch.Generator().manual_seed(0))
    assert doubled == pytest.approx(-2.0 - 1 / 2.0 + 2.0, abs=0.1)  # σ ≈ 2 for g_in = 2 g_out
    isometry = _block_trainability(f_in, -f_in, torch.Generator().manual_seed(0))
    assert isometry == pytest.approx(0.0, abs=0.05)  # σ ≈ 1: the best a block can score
    assert _block_trainability(f_in, f_in, torch.Generator().manual_seed(0)) == -math.inf


def test_zico_is_the_log_summed_inverse_coefficient_of_variation_across_splits():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 5))
    batch, labels = torch.randn(8, 3, 8, 8), torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    grads = []
    for part in (slice(0, 4), slice(4, 8)):
        net.zero_grad()
        F.cross_entropy(net(batch[part]), labels[part]).backward()
        grads.append([net[0].weight.grad.flatten().numpy().copy(), net[4].weight.grad.flatten().numpy().copy()])
    net.zero_grad()
    by_hand = 0.0
    for layer in range(2):
        g = np.stack([grads[0][layer], grads[1][layer]]).astype(np.float64)
        std, mean_abs = g.std(axis=0), np.abs(g).mean(axis=0)
        by_hand += math.log(np.sum(mean_abs[std > 0] / std[std > 0]))
    assert zico(net, batch, labels) == pytest.approx(by_hand, rel=1e-5)


def test_zico_reads_the_labels():
    net, batch, labels = small_net(), batch16(), labels16()
    assert zico(net, batch, labels) != pytest.approx(zico(net, batch, (labels + 1) % 100), rel=1e-4)


def test_distinct_patterns_counts_distinct_unit_columns():
    generator = torch.Generator().manual_seed(0)
    for samples in (3, 16, 70):  # one packed code per unit, and several
        signs = (torch.rand(samples, 500, generator=generator) > 0.5).float()
        signs[:, 250:] = signs[:, :250]  # every pattern twice
        assert distinct_patterns(signs) == torch.unique(signs.T, dim=0).shape[0]
    assert distinct_patterns(torch.ones(16, 40)) == 1


def test_swap_regularisation_and_its_mean_over_repeats():
    net, batch = small_net(), batch16()
    thousands = sum(p.numel() for p in net.parameters()) / 1e3
    assert swap_regulariser(net, thousands, 10.0) == 1.0
    assert swap_regulariser(net, thousands + 3.0, 10.0) == pytest.approx(math.exp(-0.9))
    plain = swap(net, batch, repeats=4, generator=torch.Generator().manual_seed(1))
    regular = swap(net, batch, repeats=4, mu=thousands + 3.0, sigma=10.0, generator=torch.Generator().manual_seed(1))
    assert regular == pytest.approx(plain * math.exp(-0.9))
    assert 1 <= plain <= 2 ** 16  # at most one pattern per subset of the 16 images


def test_az_complexity_is_the_networks_macs_as_a_quality():
    stats = compute_stats(MIXED, ["az_complexity", "macs"], None, seed=0, **SMALL)
    assert stats["az_complexity"] == stats["macs"]
