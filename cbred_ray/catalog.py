"""What a config may name, without importing torch: the catalogue of the statistics (one
:class:`StatisticInfo` each: its network, direction, inputs and the options a config may set) and
the input batch sources shipped with the package.

This is the one place a statistic's description is written. Config validation and the driver's
selection and report read it, so that loading a config or scoring clusters does not load torch;
the statistics registry (:mod:`cbred_ray.stats.registry`) attaches each statistic's function to its
record and checks at import that the functions accept exactly the options declared here, and
:mod:`cbred_ray.stats.data` reads the sources.

Adding a statistic: add its :class:`StatisticInfo` to ``_ALL`` below, and its function to the
registry's ``IMPLEMENTATIONS`` (importing the registry fails until the two agree).
"""
from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from cbred_ray.errors import BadInput

DTYPE = "dtype"
"""The type of an option naming a floating-point torch dtype (one of :data:`DTYPE_NAMES`, e.g.
``"float64"``); the engine turns the name into the torch dtype when it runs."""
COUNT = "count"
"""The type of an option that is a positive integer (the sizes of linear regions' input crops)."""
DTYPE_NAMES = ("float16", "half", "bfloat16", "float32", "float", "float64", "double")
"""The names a :data:`DTYPE` option may take: torch's floating-point dtypes."""

OptionType = type | types.UnionType | str
"""What an option's value must be: ``bool``, ``int``, ``float`` (an int is accepted), ``tuple``, a union
with ``None`` (e.g. ``int | None``), :data:`DTYPE` or :data:`COUNT`."""

NASWOT_BATCH = 128
"""Images NASWOT v1 and v2 read: v2's published batch (Mellor et al. 2021). v1's reference
used 256; v1 reads the same 128 so that both scores come from one pass."""
ZERO_COST_BATCH = 64
"""Images the zero-cost set reads: zero-cost-nas's NB201 setting (``--batch_size 64``, one batch),
which NAS-Bench-Suite-Zero's datasheet also gives (its shipped configs say 32)."""
NTK_BATCH = 32
"""Images the NTK reads: TE-NAS's NB201 setting as the project documents it (TE-NAS's
pruning launch script uses 72; see ``cbred_ray.stats.ntk``)."""


@dataclass(frozen=True)
class StatisticInfo:
    """A statistic as a config, the selection and the report see it: everything but its function.

    ``network``: the network the engine builds for it: "standard" (the NB201 network, with the input
    batch), "small" (the NB201 network at 3 channels and one cell per stage, TE-NAS's NTK setup,
    with the input batch) or "thin" (TE-NAS's thin network, with small crops of the batch; see
    ``cbred_ray.stats.linear_regions``). ``higher_is_better``: its direction; ``kind`` is "quality"
    for training-free accuracy predictors and "cost" for resource measures (params, MACs), for which
    ``higher_is_better`` is False (smaller is cheaper). ``needs_batch``: it reads the input batch;
    ``needs_labels``: it also reads the images' labels. ``batch_size``: how many images of the batch
    it reads by default (None: all); the ``batch_size`` option overrides it. ``random``: it draws
    random numbers of its own, from a stream seeded by the run's seed and its name. ``options``: the
    knobs a config may set for it, name -> :data:`OptionType`: the keyword parameters of its function,
    ``batch_size`` when it reads a batch, and the options that shape its inputs (the registry checks
    this at import). ``doc``: what it computes, in its published setup. ``reads``: the methods of the network
    it calls beyond ``forward`` (:data:`NETWORK_METHODS`); a space whose networks do not define them
    (``Space.network_methods``) has the statistic refused before a run.
    """

    name: str
    network: Literal["standard", "small", "thin"]
    higher_is_better: bool
    kind: Literal["quality", "cost"]
    needs_batch: bool
    needs_labels: bool
    batch_size: int | None
    random: bool
    options: Mapping[str, OptionType] = field(hash=False)
    doc: str
    reads: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", types.MappingProxyType(dict(self.options)))


def _stat(name: str, doc: str, options: Mapping[str, OptionType], *, network: Literal["standard", "small", "thin"]
          = "standard", higher_is_better: bool = True, kind: Literal["quality", "cost"] = "quality",
          needs_batch: bool = False, needs_labels: bool = False, batch_size: int | None = None,
          random: bool = False, reads: tuple[str, ...] = ()) -> StatisticInfo:
    """A statistic whose ``options`` are its function's (and inputs'); one that reads a batch also takes
    ``batch_size``."""
    if (batch_size is not None or needs_labels) and not needs_batch:
        raise ValueError(f"statistic {name!r} reads images, so it needs_batch")
    unknown = [r for r in reads if r not in NETWORK_METHODS]
    if unknown:
        raise ValueError(f"statistic {name!r} reads {unknown[0]!r}, which is not one of {NETWORK_METHODS}")
    return StatisticInfo(name, network, higher_is_better, kind, needs_batch, needs_labels, batch_size, random,
                         {**options, **({"batch_size": int} if needs_batch else {})}, doc, reads)


NETWORK_METHODS: dict[str, str] = {
    "pre_pool": "pre_pool(x): the feature map the global pooling reads",
    "cell_features": "cell_features(x): the stem's output and every block's, in order",
}
"""The methods beyond ``forward`` that some statistics call on a network, and what each returns."""

_TRAIN = {"train_mode": bool}
"""The option of every statistic that runs its network in train mode by default."""
_AZ = {"batch_size": int, "train_mode": bool}
"""The options of AZ-NAS's components: the Gaussian images they draw, and the mode."""
_VKDNW = {"batch_size": int, "tensors": int}
"""The options of VKDNW: the Gaussian images it draws, and the parameter tensors whose element 0 it reads."""

_ALL = (
    _stat("naswot_v1", "-Σ[log(σ+k) + 1/(σ+k)] over eigenvalues of the input-Jacobian correlation matrix, "
          "k=1e-5, train mode, 128 images (Mellor et al., arXiv 2006.04647v1)",
          {**_TRAIN, "k": float}, needs_batch=True, batch_size=NASWOT_BATCH),
    _stat("naswot_v2", "log|det| of the ReLU binary-code kernel, train mode, 128 images (Mellor et al., ICML 2021)",
          _TRAIN, needs_batch=True, batch_size=NASWOT_BATCH),
    _stat("ntk_cond", "λ_max/λ_min of the empirical NTK of per-sample summed logits w.r.t. the weights, "
          "train mode, 32 images, NB201 network at C=3, N=1 (TE-NAS, Chen et al., ICLR 2021)",
          {**_TRAIN, "weights_only": bool, "chunk_size": int | None},
          network="small", higher_is_better=False, needs_batch=True, batch_size=NTK_BATCH),
    _stat("linear_regions", "distinct ReLU activation patterns, thin C=1 net, 3x(3x1000) 1x3x3 crops, train mode "
          "(TE-NAS, ICLR 2021)",
          {**_TRAIN, "forward_batch": int, "repeats": int, "dtype": DTYPE, "samples": COUNT, "resolution": COUNT},
          network="thin", needs_batch=True),
    _stat("synflow", "ln of sum |θ ⊙ ∂R/∂θ|, |θ|, all-ones input, float64, no BN (Tanaka et al., 2020)", {}),
    _stat("logsynflow", "sum |θ ⊙ log(1 + |∂R/∂θ|)|, |θ|, all-ones input, float64, no BN (Cavagnero et al., 2023)",
          {}),
    _stat("jacov", "-Σ[log(σ+k) + 1/(σ+k)] over eigenvalues of the input-Jacobian correlation matrix, k=1e-5, "
          "train mode, 64 images (zero-cost set: Abdelfattah et al., ICLR 2021; NAS-Bench-Suite-Zero)",
          {**_TRAIN, "k": float}, needs_batch=True, batch_size=ZERO_COST_BATCH),
    _stat("l2_norm", "Σ over conv and linear layers of the Frobenius norm of the weight, untrained, data-free "
          "(NAS-Bench-Suite-Zero, Krishnakumar et al., 2022)", {}),
    _stat("meco", "Σ over every module of λ_min of the Pearson correlation of its output's channels, one image, "
          "train mode (MeCo, Jiang et al., NeurIPS 2023)",
          _TRAIN, needs_batch=True, batch_size=1),  # stats.meco.MECO_BATCH, which the registry checks
    _stat("grad_norm", "Σ over conv and linear layers of ‖∂L/∂W‖, L the cross-entropy of 64 labelled images, "
          "train mode (zero-cost set: Abdelfattah et al., ICLR 2021)",
          _TRAIN, needs_batch=True, needs_labels=True, batch_size=ZERO_COST_BATCH),
    _stat("snip", "Σ |∂L/∂W ⊙ W| over conv and linear weights, cross-entropy of 64 labelled images, train mode "
          "(SNIP, Lee et al., ICLR 2019; zero-cost set)",
          _TRAIN, needs_batch=True, needs_labels=True, batch_size=ZERO_COST_BATCH),
    _stat("grasp", "Σ -W ⊙ Hg over conv and linear weights, g = ∂L/∂W, H the Hessian, cross-entropy of 64 "
          "labelled images, train mode (GraSP, Wang et al., ICLR 2020; zero-cost set)",
          {**_TRAIN, "temperature": float}, needs_batch=True, needs_labels=True, batch_size=ZERO_COST_BATCH),
    _stat("fisher", "Σ over conv and linear outputs' channels of ½ mean_n (Σ a ⊙ ∂L/∂a)² times the fan-in, "
          "cross-entropy of 64 labelled images, train mode (Turner et al., ICLR 2020; zero-cost set)",
          _TRAIN, needs_batch=True, needs_labels=True, batch_size=ZERO_COST_BATCH),
    _stat("plain", "Σ ∂L/∂W ⊙ W (signed) over conv and linear weights, cross-entropy of 64 labelled images, "
          "train mode (zero-cost set)", _TRAIN, needs_batch=True, needs_labels=True, batch_size=ZERO_COST_BATCH),
    _stat("epe_nas", "Σ over classes of |Σ log(|corr|+1e-5)| of the correlations of the class's input Jacobians, "
          "64 labelled images, train mode (EPE-NAS, Lopes et al., ICANN 2021; NAS-Bench-Suite-Zero)",
          {**_TRAIN, "k": float}, needs_batch=True, needs_labels=True, batch_size=ZERO_COST_BATCH),
    _stat("zen", "log E‖f(x) - f(x + 0.01ε)‖₁ + Σ log √mean(BN running var), f the pre-pooling map, N(0,1) "
          "weights, 64 Gaussian images, train mode (Zen-NAS, Lin et al., ICCV 2021)",
          {"batch_size": int, "mixup_gamma": float, "repeats": int}, random=True, reads=("pre_pool",)),
    _stat("az_expressivity", "Σ over stem and block outputs of the entropy of the channel-covariance spectrum, "
          "Kaiming fan-in weights, 64 Gaussian images, train mode (AZ-NAS, Lee and Ham, CVPR 2024)", _AZ, random=True,
          reads=("cell_features",)),
    _stat("az_progressivity", "min over consecutive stem and block outputs of the growth of their expressivity "
          "(AZ-NAS, CVPR 2024)", _AZ, random=True, reads=("cell_features",)),
    _stat("az_trainability", "mean over blocks of -σ - 1/σ + 2, σ the spectral norm of the Rademacher-probed "
          "input-output gradient correlation (AZ-NAS, CVPR 2024)", _AZ, random=True, reads=("cell_features",)),
    _stat("az_complexity", "multiply-accumulates for one 3x32x32 image, as a quality: AZ-NAS's complexity (FLOPs), "
          "higher is better (AZ-NAS, CVPR 2024)", {"input_shape": tuple}),
    _stat("zico", "Σ over conv and linear layers of log Σ E|g|/σ(g) of the CE weight gradients across 2 batches of "
          "128 labelled images, train mode (ZiCo, Li et al., ICLR 2023)",
          {"batches": int, **_TRAIN}, needs_batch=True, needs_labels=True,
          batch_size=256),  # stats.zico.ZICO_BATCH, which the registry checks
    _stat("swap", "distinct sample-wise ReLU activation patterns of 16 images, mean over 32 N(0,1) "
          "re-initialisations, train mode, NB201 network at C=3, N=1 (SWAP, Peng et al., ICLR 2024)",
          {"repeats": int, "mu": float | None, "sigma": float | None, **_TRAIN}, network="small", needs_batch=True,
          batch_size=16, random=True),  # stats.swap.SWAP_BATCH, which the registry checks
    _stat("vkdnw", "ℵ + H / ln 9: the parameter tensors ℵ, then H, the entropy of the 9 deciles of the Fisher "
          "information's spectrum over element 0 of the first 128 tensors, Kaiming fan-in weights, 64 Gaussian "
          "images, eval mode (VKDNW_single, Týbl and Neumann, CVPR 2025)", _VKDNW, random=True),
    _stat("vkdnw_entropy", "H alone: the entropy of the 9 deciles of the Fisher information's spectrum (VKDNW, "
          "CVPR 2025)", _VKDNW, random=True),
    _stat("params", "number of parameters", {}, higher_is_better=False, kind="cost"),
    _stat("macs", "multiply-accumulates for one 3x32x32 image (FlopCounterMode FLOPs / 2)", {"input_shape": tuple},
          higher_is_better=False, kind="cost"),
)

CATALOGUE: dict[str, StatisticInfo] = {info.name: info for info in _ALL}
"""Every statistic, in the registry's order (the order of reports and of ``cbred_ray.stats.STATISTICS``)."""

NETWORK_OF: dict[str, str] = {name: info.network for name, info in CATALOGUE.items()}
"""Every statistic, in its order, and the network it runs on (``StatisticInfo.network``)."""


def refused_statistics(names: Sequence[str], space: Any) -> dict[str, str]:
    """The statistics of ``names`` that ``space``'s networks cannot run, each with the reason (the network
    kind it lacks, ``Space.network_kinds``, or a method its networks do not define, ``Space.network_methods``)."""
    refused = {}
    for name in names:
        info = CATALOGUE[name]
        missing = [m for m in info.reads if m not in space.network_methods]
        if info.network not in space.network_kinds:
            refused[name] = f"needs the {info.network} network, which space {space.name!r} does not have"
        elif missing:
            refused[name] = (f"calls the network's {NETWORK_METHODS[missing[0]]}, which the networks of space "
                             f"{space.name!r} do not define (a space declares those it has in network_methods)")
    return refused


_TYPE_WORDS = {bool: "true or false", int: "an integer", float: "a number", tuple: "a tuple", type(None): "null"}


def fits(value: Any, kind: OptionType) -> bool:
    """Whether ``value`` is a value of the option type ``kind`` (see :data:`OptionType`)."""
    if kind == DTYPE:
        return isinstance(value, str) and value in DTYPE_NAMES
    if kind == COUNT:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 1
    members = get_args(kind) or (kind,)
    if isinstance(value, bool):
        return bool in members
    if isinstance(value, int) and float in members:
        return True
    return isinstance(value, members)


def check_options(names: Sequence[str], options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """Check per-statistic options against the catalogue's declarations, without torch; BadInput names
    the first bad statistic, key or value.

    Returns a copy of the options; dtype names stay names (the engine turns them into torch dtypes).
    """
    checked: dict[str, dict[str, Any]] = {}
    for name, knobs in (options or {}).items():
        if name not in names:
            raise BadInput(f"options given for statistic {name!r}, which is not computed (computed: {', '.join(names)})")
        if name not in CATALOGUE:
            raise BadInput(f"unknown statistic {name!r}; known: {', '.join(CATALOGUE)}")
        declared = CATALOGUE[name].options
        checked[name] = {}
        for key, value in dict(knobs).items():
            if key not in declared:
                raise BadInput(f"unknown option {key!r} for statistic {name!r} (known: {', '.join(sorted(declared))})")
            kind = declared[key]
            if key == "batch_size" and (not isinstance(value, int) or value < 2):
                raise BadInput(f"option batch_size for {name!r} must be an integer >= 2, got {value!r}")
            if kind == COUNT and not fits(value, kind):
                raise BadInput(f"option {key} for {name!r} must be a positive integer, got {value!r}")
            if kind == DTYPE and not fits(value, kind):
                raise BadInput(f"option {key!r} for {name!r} must name a torch dtype, got {value!r}")
            if not fits(value, kind):
                words = " or ".join(_TYPE_WORDS.get(member, member.__name__) for member in get_args(kind) or (kind,))
                raise BadInput(f"option {key!r} for {name!r} must be {words}, got {value!r}")
            checked[name][key] = value
    return checked


_SAMPLES = Path(__file__).parent / "stats" / "samples"
BUILTIN_SOURCES = {"cifar100-sample25": _SAMPLES / "cifar100_sample25.npz",
                   "cifar10-sample20": _SAMPLES / "cifar10_sample20.npz"}
"""Named batch sources shipped with the package (see ``stats/samples/README.md``)."""
BUILTIN_DATASET = {"cifar100-sample25": "cifar100", "cifar10-sample20": "cifar10"}
"""The dataset each built-in source samples (its channel statistics normalise it)."""
