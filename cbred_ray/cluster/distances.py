"""Probabilistic distances between operation-usage distributions, one pair or pairwise in blocks.

Each row of a feature matrix is a distribution over operation types (non-negative, summing
to 1: ``cbred_ray.graphs.features.op_usage``). Three distances, as the method describes:

- ``symmetric_kl``: KL(p' || q') + KL(q' || p') of the smoothed p' = (p + ε) / (1 + dε),
  q' likewise (zeros need smoothing: KL is infinite when one side is 0 where the other is not);
- ``jensen_shannon``: the Jensen–Shannon *distance* (square root of the divergence, natural
  log, ≤ √ln 2), as ``scipy.spatial.distance.jensenshannon``; a metric;
- ``hellinger``: sqrt(1 - Σ sqrt(p q)), in [0, 1]; a metric.

``pairwise(X, Y, metric)`` computes the full matrix block by block (``block`` rows of X at a
time), so memory stays at block x len(Y) whatever the size; the pipeline runs the blocks
as Ray tasks for large spaces.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from cbred_ray.errors import BadInput

DEFAULT_SMOOTHING = 1e-6


def _distribution(p: np.ndarray, name: str = "distribution") -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 and p.ndim != 2:
        raise BadInput(f"{name} must be a vector or a matrix of row distributions, got shape {p.shape}")
    if (p < 0).any() or not np.allclose(p.sum(axis=-1), 1.0, atol=1e-9):
        raise BadInput(f"{name} rows must be non-negative and sum to 1")
    # Subnormal masses are zero for any purpose here, and halving one (the JS midpoint) would
    # round it to 0 below a positive mass, making the divergence infinite.
    return np.where(p < np.finfo(np.float64).tiny, 0.0, p)


def _smoothed(p: np.ndarray, smoothing: float) -> np.ndarray:
    if smoothing <= 0:
        raise BadInput(f"KL smoothing must be positive, got {smoothing!r}")
    return (p + smoothing) / (1.0 + smoothing * p.shape[-1])


def symmetric_kl(p: np.ndarray, q: np.ndarray, smoothing: float = DEFAULT_SMOOTHING) -> float:
    """KL(p'||q') + KL(q'||p') of the smoothed distributions (see the module docstring)."""
    p, q = _smoothed(_distribution(p, "p"), smoothing), _smoothed(_distribution(q, "q"), smoothing)
    return float(rel_entr(p, q).sum() + rel_entr(q, p).sum())


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """The Jensen–Shannon distance (natural log), as ``scipy.spatial.distance.jensenshannon``."""
    return float(jensenshannon(_distribution(p, "p"), _distribution(q, "q")))


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """The Hellinger distance sqrt(1 - Σ sqrt(p q))."""
    affinity = np.sqrt(_distribution(p, "p") * _distribution(q, "q")).sum()
    return float(np.sqrt(max(0.0, 1.0 - affinity)))


def _kl_block(x: np.ndarray, y: np.ndarray, smoothing: float) -> np.ndarray:
    # Σ (p - q)(log p - log q) = Σ p log p + Σ q log q - p·log q - q·log p
    x, y = _smoothed(x, smoothing), _smoothed(y, smoothing)
    lx, ly = np.log(x), np.log(y)
    return (x * lx).sum(1)[:, None] + (y * ly).sum(1)[None, :] - x @ ly.T - lx @ y.T


def _js_block(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    m = (x[:, None, :] + y[None, :, :]) / 2.0
    divergence = (rel_entr(x[:, None, :], m).sum(-1) + rel_entr(y[None, :, :], m).sum(-1)) / 2.0
    return np.sqrt(np.maximum(divergence, 0.0))


def _hellinger_block(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(1.0 - np.sqrt(x) @ np.sqrt(y).T, 0.0))


METRICS: dict[str, Callable[..., float]] = {"symmetric_kl": symmetric_kl, "jensen_shannon": jensen_shannon,
                                            "hellinger": hellinger}
"""The probabilistic distances by the names configs use."""


def pairwise(x: np.ndarray, y: np.ndarray | None = None, metric: str = "hellinger", block: int = 1024,
             smoothing: float = DEFAULT_SMOOTHING) -> np.ndarray:
    """The (len(x), len(y)) matrix of ``metric`` between the rows of ``x`` and of ``y`` (default x).

    Vectorised per block of ``block`` rows of ``x``; each entry equals the single-pair
    function of the same name up to float rounding. The diagonal of ``pairwise(x)`` is 0.
    """
    if metric not in METRICS:
        raise BadInput(f"unknown distance {metric!r}; known: {', '.join(METRICS)}")
    x = _distribution(np.atleast_2d(x), "x")
    y = x if y is None else _distribution(np.atleast_2d(y), "y")
    if x.shape[1] != y.shape[1]:
        raise BadInput(f"x and y have {x.shape[1]} and {y.shape[1]} operation types")
    if block < 1:
        raise BadInput(f"block must be positive, got {block!r}")
    out = np.empty((len(x), len(y)))
    for start in range(0, len(x), block):
        rows = x[start : start + block]
        if metric == "symmetric_kl":
            out[start : start + block] = _kl_block(rows, y, smoothing)
        elif metric == "jensen_shannon":
            out[start : start + block] = _js_block(rows, y)
        else:
            out[start : start + block] = _hellinger_block(rows, y)
    if y is x:
        np.fill_diagonal(out, 0.0)
    return np.maximum(out, 0.0)
