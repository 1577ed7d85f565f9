"""The registry of training-free statistics, by the names the store and configs use.

Adding a statistic: write it as a plain function, ``fn(net)`` for a data-free one,
``fn(net, batch, train_mode=...)`` for one that needs an input batch, ``fn(net, batch, labels, ...)``
for one that needs the images' labels (``needs_labels``), with a keyword-only ``generator`` if it draws
random numbers of its own (``random``), and add one ``Statistic`` to ``_ALL`` below. Statistics
that read the same pass (NASWOT v1 and v2 one forward/backward pass; synflow and log-synflow one
backward pass; jacov and EPE-NAS one at 64 images; grad_norm, snip, fisher and plain one
cross-entropy backward pass; AZ-NAS's three feature components one) also name a ``SharedPass`` and
a function that scores its result: the engine then runs the pass once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from cbred_ray.catalog import NETWORK_OF
from cbred_ray.stats.az_nas import (
    az_expressivity,
    az_pass,
    az_progressivity,
    az_trainability,
    expressivity_score,
    progressivity_score,
    trainability_score,
)
from cbred_ray.stats.cost import macs, params
from cbred_ray.stats.linear_regions import linear_regions
from cbred_ray.stats.meco import MECO_BATCH, meco
from cbred_ray.stats.naswot import NaswotPass, naswot_pass, naswot_v1, naswot_v2, v1_score, v2_score
from cbred_ray.stats.ntk import ntk_cond
from cbred_ray.stats.saliency import (
    fisher,
    fisher_score,
    grad_norm,
    grad_norm_score,
    gradient_pass,
    grasp,
    plain,
    plain_score,
    snip,
    snip_score,
)
from cbred_ray.stats.swap import SWAP_BATCH, swap
from cbred_ray.stats.synflow import logsynflow, logsynflow_score, synflow, synflow_score, synflow_terms
from cbred_ray.stats.zen import zen
from cbred_ray.stats.zero_cost import EPE_K, epe_nas, epe_nas_score, l2_norm
from cbred_ray.stats.zico import ZICO_BATCH, zico


@dataclass(frozen=True)
class SharedPass:
    """A computation that several statistics read, run once when more than one needs it.

    ``run(net)`` or ``run(net, batch, **options)``: its keyword parameters are the options
    that change the pass (e.g. ``train_mode``); statistics share a pass only when they ask
    for the same options and the same number of images.
    """

    name: str
    run: Callable[..., Any]
    needs_labels: bool = False
    random: bool = False


@dataclass(frozen=True)
class Statistic:
    """A named statistic and how to read it.

    ``kind`` is "quality" for training-free accuracy predictors and "cost" for resource
    measures (params, MACs), for which ``higher_is_better`` is False (smaller is cheaper).
    ``network`` is the network the engine builds for it: "standard" (the NB201 network,
    with the input batch), "small" (the NB201 network at 3 channels and one cell per
    stage, TE-NAS's NTK setup, with the input batch) or "thin" (TE-NAS's thin network,
    with small crops of the batch; see ``cbred_ray.stats.linear_regions``).
    ``batch_size``: how many images of the input batch it reads by default (None: all);
    the ``batch_size`` option overrides it. ``input_options``: options that shape the
    inputs the engine makes for it rather than its function's arguments (linear regions:
    ``samples`` and ``resolution`` of ``region_inputs``, the crops of the batch).
    ``shared`` and ``score``: the pass it can share with other statistics, and
    ``score(result, **other options)`` giving its value from that pass's result (the
    same value ``fn`` computes alone). ``needs_labels``: it reads the labels of the batch's images
    (a loss gradient, a per-class grouping): then ``fn(net, batch, labels, ...)``; a ``SharedPass``
    with ``needs_labels`` is run as ``run(net, batch, labels, ...)``, and the score of a statistic
    that needs labels from a pass that does not read them as ``score(result, labels, ...)``.
    ``random``: it draws random numbers of its own (a re-initialisation, Gaussian inputs): its
    function (or its pass's ``run``) takes a ``generator`` keyword, which the engine gives it
    seeded by the run's seed and the statistic's (or pass's) name (``engine.random_stream``).
    """

    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    needs_batch: bool
    kind: Literal["quality", "cost"]
    doc: str
    network: Literal["standard", "small", "thin"] = "standard"
    batch_size: int | None = None
    input_options: tuple[str, ...] = ()
    shared: SharedPass | None = None
    score: Callable[..., float] | None = field(default=None, compare=False)
    needs_labels: bool = False
    random: bool = False


_NASWOT_PASS = SharedPass("naswot", naswot_pass)
_SYNFLOW_PASS = SharedPass("synflow", synflow_terms)
_GRADIENT_PASS = SharedPass("gradient", gradient_pass, needs_labels=True)
_AZ_PASS = SharedPass("az_nas", az_pass, random=True)


def _v1_from_pass(result: NaswotPass, k: float = 1e-5) -> float:
    return v1_score(result.jacobians, k)


def _v2_from_pass(result: NaswotPass) -> float:
    return v2_score(result.kernel)


def _epe_from_pass(result: NaswotPass, labels, k: float = EPE_K) -> float:
    return epe_nas_score(result, labels, k)


NASWOT_BATCH = 128
"""Images NASWOT v1 and v2 read: v2's published batch (Mellor et al. 2021). v1's reference
used 256; v1 reads the same 128 so that both scores come from one pass."""
ZERO_COST_BATCH = 64
"""Images the zero-cost set reads: zero-cost-nas's NB201 setting (``--batch_size 64``, one batch),
which NAS-Bench-Suite-Zero's datasheet also gives (its shipped configs say 32)."""
NTK_BATCH = 32
"""Images the NTK reads: TE-NAS's NB201 setting as the project documents it (TE-NAS's
pruning launch script uses 72; see ``cbred_ray.stats.ntk``)."""


_ALL = (
    Statistic("naswot_v1", naswot_v1, True, True, "quality",
              "-Σ[log(σ+k) + 1/(σ+k)] over eigenvalues of the input-Jacobian correlation matrix, k=1e-5, "
              "train mode, 128 images (Mellor et al., arXiv 2006.04647v1)",
              batch_size=NASWOT_BATCH, shared=_NASWOT_PASS, score=_v1_from_pass),
    Statistic("naswot_v2", naswot_v2, True, True, "quality",
              "log|det| of the ReLU binary-code kernel, train mode, 128 images (Mellor et al., ICML 2021)",
              batch_size=NASWOT_BATCH, shared=_NASWOT_PASS, score=_v2_from_pass),
    Statistic("ntk_cond", ntk_cond, False, True, "quality",
              "λ_max/λ_min of the empirical NTK of per-sample summed logits w.r.t. the weights, "
              "train mode, 32 images, NB201 network at C=3, N=1 (TE-NAS, Chen et al., ICLR 2021)",
              network="small", batch_size=NTK_BATCH),
    Statistic("linear_regions", linear_regions, True, True, "quality",
              "distinct ReLU activation patterns, thin C=1 net, 3x(3x1000) 1x3x3 crops, train mode (TE-NAS, ICLR 2021)",
              network="thin", input_options=("samples", "resolution")),
    Statistic("synflow", synflow, True, False, "quality",
              "ln of sum |θ ⊙ ∂R/∂θ|, |θ|, all-ones input, float64, no BN (Tanaka et al., 2020)",
              shared=_SYNFLOW_PASS, score=synflow_score),
    Statistic("logsynflow", logsynflow, True, False, "quality",
              "sum |θ ⊙ log(1 + |∂R/∂θ|)|, |θ|, all-ones input, float64, no BN (Cavagnero et al., 2023)",
              shared=_SYNFLOW_PASS, score=logsynflow_score),
    Statistic("jacov", naswot_v1, True, True, "quality",
              "-Σ[log(σ+k) + 1/(σ+k)] over eigenvalues of the input-Jacobian correlation matrix, k=1e-5, "
              "train mode, 64 images (zero-cost set: Abdelfattah et al., ICLR 2021; NAS-Bench-Suite-Zero)",
              batch_size=ZERO_COST_BATCH, shared=_NASWOT_PASS, score=_v1_from_pass),
    Statistic("l2_norm", l2_norm, True, False, "quality",
              "Σ over conv and linear layers of the Frobenius norm of the weight, untrained, data-free "
              "(NAS-Bench-Suite-Zero, Krishnakumar et al., 2022)"),
    Statistic("meco", meco, True, True, "quality",
              "Σ over every module of λ_min of the Pearson correlation of its output's channels, one image, "
              "train mode (MeCo, Jiang et al., NeurIPS 2023)", batch_size=MECO_BATCH),
    Statistic("grad_norm", grad_norm, True, True, "quality",
              "Σ over conv and linear layers of ‖∂L/∂W‖, L the cross-entropy of 64 labelled images, train mode "
              "(zero-cost set: Abdelfattah et al., ICLR 2021)",
              batch_size=ZERO_COST_BATCH, shared=_GRADIENT_PASS, score=grad_norm_score, needs_labels=True),
    Statistic("snip", snip, True, True, "quality",
              "Σ |∂L/∂W ⊙ W| over conv and linear weights, cross-entropy of 64 labelled images, train mode "
              "(SNIP, Lee et al., ICLR 2019; zero-cost set)",
              batch_size=ZERO_COST_BATCH, shared=_GRADIENT_PASS, score=snip_score, needs_labels=True),
    Statistic("grasp", grasp, True, True, "quality",
              "Σ -W ⊙ Hg over conv and linear weights, g = ∂L/∂W, H the Hessian, cross-entropy of 64 labelled "
              "images, train mode (GraSP, Wang et al., ICLR 2020; zero-cost set)",
              batch_size=ZERO_COST_BATCH, needs_labels=True),
    Statistic("fisher", fisher, True, True, "quality",
              "Σ over conv and linear outputs' channels of ½ mean_n (Σ a ⊙ ∂L/∂a)² times the fan-in, cross-entropy "
              "of 64 labelled images, train mode (Turner et al., ICLR 2020; zero-cost set)",
              batch_size=ZERO_COST_BATCH, shared=_GRADIENT_PASS, score=fisher_score, needs_labels=True),
    Statistic("plain", plain, True, True, "quality",
              "Σ ∂L/∂W ⊙ W (signed) over conv and linear weights, cross-entropy of 64 labelled images, train mode "
              "(zero-cost set)",
              batch_size=ZERO_COST_BATCH, shared=_GRADIENT_PASS, score=plain_score, needs_labels=True),
    Statistic("epe_nas", epe_nas, True, True, "quality",
              "Σ over classes of |Σ log(|corr|+1e-5)| of the correlations of the class's input Jacobians, "
              "64 labelled images, train mode (EPE-NAS, Lopes et al., ICANN 2021; NAS-Bench-Suite-Zero)",
              batch_size=ZERO_COST_BATCH, shared=_NASWOT_PASS, score=_epe_from_pass, needs_labels=True),
    Statistic("zen", zen, True, False, "quality",
              "log E‖f(x) - f(x + 0.01ε)‖₁ + Σ log √mean(BN running var), f the pre-pooling map, N(0,1) weights, "
              "64 Gaussian images, train mode (Zen-NAS, Lin et al., ICCV 2021)", random=True),
    Statistic("az_expressivity", az_expressivity, True, False, "quality",
              "Σ over stem and block outputs of the entropy of the channel-covariance spectrum, Kaiming fan-in "
              "weights, 64 Gaussian images, train mode (AZ-NAS, Lee and Ham, CVPR 2024)",
              shared=_AZ_PASS, score=expressivity_score, random=True),
    Statistic("az_progressivity", az_progressivity, True, False, "quality",
              "min over consecutive stem and block outputs of the growth of their expressivity (AZ-NAS, CVPR 2024)",
              shared=_AZ_PASS, score=progressivity_score, random=True),
    Statistic("az_trainability", az_trainability, True, False, "quality",
              "mean over blocks of -σ - 1/σ + 2, σ the spectral norm of the Rademacher-probed input-output "
              "gradient correlation (AZ-NAS, CVPR 2024)",
              shared=_AZ_PASS, score=trainability_score, random=True),
    Statistic("az_complexity", macs, True, False, "quality",
              "multiply-accumulates for one 3x32x32 image, as a quality: AZ-NAS's complexity (FLOPs), higher is "
              "better (AZ-NAS, CVPR 2024)"),
    Statistic("zico", zico, True, True, "quality",
              "Σ over conv and linear layers of log Σ E|g|/σ(g) of the CE weight gradients across 2 batches of 128 "
              "labelled images, train mode (ZiCo, Li et al., ICLR 2023)",
              batch_size=ZICO_BATCH, needs_labels=True),
    Statistic("swap", swap, True, True, "quality",
              "distinct sample-wise ReLU activation patterns of 16 images, mean over 32 N(0,1) re-initialisations, "
              "train mode, NB201 network at C=3, N=1 (SWAP, Peng et al., ICLR 2024)",
              network="small", batch_size=SWAP_BATCH, random=True),
    Statistic("params", params, False, False, "cost", "number of parameters"),
    Statistic("macs", macs, False, False, "cost",
              "multiply-accumulates for one 3x32x32 image (FlopCounterMode FLOPs / 2)"),
)

STATISTICS: dict[str, Statistic] = {stat.name: stat for stat in _ALL}
if {name: stat.network for name, stat in STATISTICS.items()} != NETWORK_OF:  # the catalog config validation reads
    raise ImportError("cbred_ray.catalog.NETWORK_OF does not list the registry's statistics and networks")
