"""The registry of training-free statistics, by the names the store and configs use.

Adding a statistic: write it as a plain function, ``fn(net)`` for a data-free one or
``fn(net, batch, train_mode=...)`` for one that needs an input batch, and add one
``Statistic`` to ``_ALL`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from cbred_ray.stats.cost import macs, params
from cbred_ray.stats.linear_regions import linear_regions
from cbred_ray.stats.naswot import naswot_v1, naswot_v2
from cbred_ray.stats.ntk import ntk_cond
from cbred_ray.stats.synflow import logsynflow, synflow


@dataclass(frozen=True)
class Statistic:
    """A named statistic and how to read it.

    ``kind`` is "quality" for training-free accuracy predictors and "cost" for resource
    measures (params, MACs), for which ``higher_is_better`` is False (smaller is cheaper).
    ``network`` is the network the engine builds for it: "standard" (the NB201 network,
    with the input batch), "small" (the NB201 network at 3 channels and one cell per
    stage, TE-NAS's NTK setup, with the input batch) or "thin" (TE-NAS's thin network,
    with small crops of the batch; see ``cbred_ray.stats.linear_regions``).
    """

    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    needs_batch: bool
    kind: Literal["quality", "cost"]
    doc: str
    network: Literal["standard", "small", "thin"] = "standard"


_ALL = (
    Statistic("naswot_v1", naswot_v1, True, True, "quality",
              "-Σ[log(σ+k) + 1/(σ+k)] over eigenvalues of the input-Jacobian correlation matrix, k=1e-5, "
              "eval mode (Mellor et al., arXiv 2006.04647v1)"),
    Statistic("naswot_v2", naswot_v2, True, True, "quality",
              "log|det| of the ReLU binary-code kernel (Mellor et al., ICML 2021)"),
    Statistic("ntk_cond", ntk_cond, False, True, "quality",
              "λ_max/λ_min of the empirical NTK of per-sample summed logits w.r.t. the weights, "
              "train mode, NB201 network at C=3, N=1 (TE-NAS, Chen et al., ICLR 2021)", network="small"),
    Statistic("linear_regions", linear_regions, True, True, "quality",
              "distinct ReLU activation patterns, thin C=1 net, 3x(3x1000) 1x3x3 crops, train mode (TE-NAS, ICLR 2021)",
              network="thin"),
    Statistic("synflow", synflow, True, False, "quality",
              "ln of sum |θ ⊙ ∂R/∂θ|, |θ|, all-ones input, float64, no BN (Tanaka et al., 2020)"),
    Statistic("logsynflow", logsynflow, True, False, "quality",
              "sum |θ ⊙ log(1 + |∂R/∂θ|)|, |θ|, all-ones input, float64, no BN (Cavagnero et al., 2023)"),
    Statistic("params", params, False, False, "cost", "number of parameters"),
    Statistic("macs", macs, False, False, "cost",
              "multiply-accumulates for one 3x32x32 image (FlopCounterMode FLOPs / 2)"),
)

STATISTICS: dict[str, Statistic] = {stat.name: stat for stat in _ALL}
