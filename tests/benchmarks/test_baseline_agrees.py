"""The speed baseline (benchmarks/baseline_stats.py) computes the same statistics as the engine.

Two small cells, 16 synthetic images with made-up labels, the standard network shrunk to 8 channels and one
cell per stage (the small NTK and thin linear-region networks keep their published sizes).
Tolerances are relative; they allow for float32 rounding that differs between the two
implementations (channels-last vs contiguous convolutions, one batched backward vs
per-sample backwards, float32 vs float64 products) and nothing more. Exact where both sides
compute the same numbers.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest
import torch

from cbred_ray.stats import STATISTICS, compute_stats, load_batch

BASELINE_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "baseline_stats.py"
CELLS = (
    ("nor_conv_3x3", "skip_connect", "nor_conv_1x1", "avg_pool_3x3", "nor_conv_3x3", "none"),
    ("none", "none", "none", "avg_pool_3x3", "skip_connect", "nor_conv_1x1"),
)
SHRUNK = {"channels": 8, "cells_per_stage": 1}
SEED = 3
TOLERANCE = {
    "naswot_v1": 1e-4,  # float32 input Jacobians, batched vs per-sample backward
    "naswot_v2": 1e-4,  # a pre-activation within rounding of 0 may flip its code
    "ntk_cond": 1e-3,  # float32 gradients; the ratio amplifies rounding of λ_min
    "linear_regions": 1e-5,  # TE-NAS sums 1/multiplicity in float32; the engine counts exactly
    "synflow": 1e-9,
    "logsynflow": 1e-9,
    "jacov": 1e-4,  # as naswot_v1
    "l2_norm": 1e-6,  # float64 sum here, float32 norms in the reference
    "meco": 1e-4,  # float32 eig in the reference, float64 eigvalsh in the engine
    "grad_norm": 1e-5,  # float32 gradients, channels-last vs contiguous convolutions
    "snip": 1e-4,  # as grad_norm; the mask's gradient is g ⊙ W
    "grasp": 1e-3,  # a signed sum of float32 Hessian-vector products; one forward here, two in the reference
    "fisher": 1e-4,  # float32 squares of per-channel sums
    "plain": 1e-3,  # a signed sum of float32 products that largely cancel
    "epe_nas": 1e-4,  # log(|corr| + 1e-5) magnifies the rounding of correlations near 0
    "zen": 1e-5,  # float32 features, channels-last vs contiguous convolutions
    "az_expressivity": 1e-4,  # float64 covariance spectra here, float32 in the reference
    "az_progressivity": 1e-2,  # the smallest difference of two nearly equal entropies
    "az_trainability": 1e-3,  # float32 gradients and singular values
    "az_complexity": 0.0,
    "zico": 5e-3,  # over 2 splits E|g|/σ(g) is (|a|+|b|)/|a-b|: where the splits nearly agree it amplifies
    # rounding (float32 numpy there, float64 here; channels-last vs contiguous gradients)
    "swap": 1e-3,  # a pre-activation within rounding of 0 may flip its sign
    "vkdnw": 1e-5,  # ℵ (exact) + the entropy below / ln 9
    "vkdnw_entropy": 1e-3,  # float32 Jacobians and spectrum there, float64 products here; its smoothing's α / C
    # in float16 there, in float64 here
    "params": 0.0,
    "macs": 0.0,
}


def _load_baseline():
    spec = importlib.util.spec_from_file_location("baseline_stats_under_test", BASELINE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def both():
    baseline = _load_baseline()
    batch, _, _ = load_batch(None, 16, seed=1)  # 16: SWAP's count of patterns saturates at 2^8 on 8 images
    labels = torch.tensor([3, 7, 3, 50, 99, 7, 0, 3, 12, 12, 40, 41, 42, 7, 3, 0])  # classes of one to four images
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the baseline's float16 3000x3000 products oversubscribe a busy machine
    try:
        out = []
        for cell in CELLS:
            engine = compute_stats(cell, list(STATISTICS), batch, SEED, labels=labels, **SHRUNK)
            base = baseline.baseline_stats(cell, batch, labels, SEED, **SHRUNK)
            out.append((engine, base))
    finally:
        torch.set_num_threads(threads)
    return baseline, out


def test_baseline_covers_every_statistic(both):
    baseline, _ = both
    assert tuple(baseline.NAMES) == tuple(STATISTICS)
    assert set(TOLERANCE) == set(STATISTICS)


@pytest.mark.parametrize("name", list(STATISTICS))
def test_values_agree(both, name):
    _, pairs = both
    for (engine, base), cell in zip(pairs, CELLS):
        value, reason = engine[name]
        assert reason is None, f"engine failed on {cell}: {reason}"
        assert math.isfinite(base[name])
        scale = max(abs(value), abs(base[name]))
        assert abs(value - base[name]) <= TOLERANCE[name] * scale, (name, cell, value, base[name])


@pytest.mark.parametrize("name", list(STATISTICS))
def test_the_check_can_fail(both, name):
    """The two cells' values differ by at least ten times the tolerance: agreement is not vacuous."""
    _, ((first, _), (second, _)) = both
    a, b = first[name][0], second[name][0]
    assert abs(a - b) > 10 * TOLERANCE[name] * max(abs(a), abs(b)) + 1e-12, (name, a, b)
