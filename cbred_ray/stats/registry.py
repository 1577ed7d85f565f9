"""The functions of the training-free statistics, attached to the catalogue's records.

Adding a statistic: describe it in :mod:`cbred_ray.catalog` (a ``StatisticInfo``: its network,
direction, batch, labels and the options a config may set), write it as a plain function,
``fn(net)`` for a data-free one, ``fn(net, batch, train_mode=...)`` for one that needs an input batch,
``fn(net, batch, labels, ...)`` for one that needs the images' labels (``needs_labels``), with a
keyword-only ``generator`` if it draws random numbers of its own (``random``), and add its
``Implementation`` to ``IMPLEMENTATIONS`` below. Statistics that read the same pass (NASWOT v1 and v2
one forward/backward pass; synflow and log-synflow one backward pass; jacov and EPE-NAS one at 64
images; grad_norm, snip, fisher and plain one cross-entropy backward pass; AZ-NAS's three feature
components one) also name a ``SharedPass`` and a function that scores its result: the engine then
runs the pass once for all of them. At import, :func:`check_catalogue` checks that the catalogue and
the functions agree (every statistic has a function, and its function accepts exactly the declared
options), and raises ImportError naming the first disagreement.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import torch

from cbred_ray.catalog import CATALOGUE, COUNT, DTYPE, DTYPE_NAMES, StatisticInfo, fits
from cbred_ray.catalog import NASWOT_BATCH as NASWOT_BATCH
from cbred_ray.catalog import NTK_BATCH as NTK_BATCH
from cbred_ray.catalog import ZERO_COST_BATCH as ZERO_COST_BATCH
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
from cbred_ray.stats.linear_regions import linear_regions, region_inputs
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
from cbred_ray.stats.vkdnw import vkdnw, vkdnw_entropy, vkdnw_entropy_score, vkdnw_pass, vkdnw_score
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
    """A named statistic and how to read it: its catalogue record (``cbred_ray.catalog.StatisticInfo``)
    with its function attached (``attach``).

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

    @classmethod
    def attach(cls, info: StatisticInfo, impl: Implementation) -> Statistic:
        """The statistic the catalogue's record ``info`` describes, computed by ``impl``."""
        return cls(info.name, impl.fn, info.higher_is_better, info.needs_batch, info.kind, info.doc, info.network,
                   info.batch_size, impl.input_options, impl.shared, impl.score, info.needs_labels, info.random)


_NASWOT_PASS = SharedPass("naswot", naswot_pass)
_SYNFLOW_PASS = SharedPass("synflow", synflow_terms)
_GRADIENT_PASS = SharedPass("gradient", gradient_pass, needs_labels=True)
_AZ_PASS = SharedPass("az_nas", az_pass, random=True)
_VKDNW_PASS = SharedPass("vkdnw", vkdnw_pass, random=True)


def _v1_from_pass(result: NaswotPass, k: float = 1e-5) -> float:
    return v1_score(result.jacobians, k)


def _v2_from_pass(result: NaswotPass) -> float:
    return v2_score(result.kernel)


def _epe_from_pass(result: NaswotPass, labels, k: float = EPE_K) -> float:
    return epe_nas_score(result, labels, k)


class Implementation(NamedTuple):
    """What the registry adds to a catalogue record: the function, the options that shape its inputs
    rather than its function's arguments, and the pass it can share and how it scores that pass's
    result (see ``Statistic``)."""

    fn: Callable[..., float]
    shared: SharedPass | None = None
    score: Callable[..., float] | None = None
    input_options: tuple[str, ...] = ()


IMPLEMENTATIONS: dict[str, Implementation] = {
    "naswot_v1": Implementation(naswot_v1, _NASWOT_PASS, _v1_from_pass),
    "naswot_v2": Implementation(naswot_v2, _NASWOT_PASS, _v2_from_pass),
    "ntk_cond": Implementation(ntk_cond),
    "linear_regions": Implementation(linear_regions, input_options=("samples", "resolution")),
    "synflow": Implementation(synflow, _SYNFLOW_PASS, synflow_score),
    "logsynflow": Implementation(logsynflow, _SYNFLOW_PASS, logsynflow_score),
    "jacov": Implementation(naswot_v1, _NASWOT_PASS, _v1_from_pass),
    "l2_norm": Implementation(l2_norm),
    "meco": Implementation(meco),
    "grad_norm": Implementation(grad_norm, _GRADIENT_PASS, grad_norm_score),
    "snip": Implementation(snip, _GRADIENT_PASS, snip_score),
    "grasp": Implementation(grasp),
    "fisher": Implementation(fisher, _GRADIENT_PASS, fisher_score),
    "plain": Implementation(plain, _GRADIENT_PASS, plain_score),
    "epe_nas": Implementation(epe_nas, _NASWOT_PASS, _epe_from_pass),
    "zen": Implementation(zen),
    "az_expressivity": Implementation(az_expressivity, _AZ_PASS, expressivity_score),
    "az_progressivity": Implementation(az_progressivity, _AZ_PASS, progressivity_score),
    "az_trainability": Implementation(az_trainability, _AZ_PASS, trainability_score),
    "az_complexity": Implementation(macs),
    "zico": Implementation(zico),
    "swap": Implementation(swap),
    "vkdnw": Implementation(vkdnw, _VKDNW_PASS, vkdnw_score),
    "vkdnw_entropy": Implementation(vkdnw_entropy, _VKDNW_PASS, vkdnw_entropy_score),
    "params": Implementation(params),
    "macs": Implementation(macs),
}
"""The function of every statistic of :data:`cbred_ray.catalog.CATALOGUE`, by name."""

BATCH_CONSTANTS: dict[str, int] = {"meco": MECO_BATCH, "zico": ZICO_BATCH, "swap": SWAP_BATCH}
"""Default batch sizes that the statistics' modules also define: the catalogue must give the same."""


def accepted_options(info: StatisticInfo, impl: Implementation) -> dict[str, Any]:
    """The options the function of ``info`` accepts, with their defaults (``inspect.Parameter.empty``
    where there is none): its keyword-only or defaulted parameters but ``generator``, ``batch_size`` for
    a statistic that reads a batch (default ``info.batch_size``), and its input options (defaults those
    of ``region_inputs``)."""
    params = inspect.signature(impl.fn).parameters
    accepted = {p: params[p].default for p in params if p != "generator" and (
        params[p].kind is inspect.Parameter.KEYWORD_ONLY or params[p].default is not inspect.Parameter.empty)}
    if info.needs_batch:
        accepted["batch_size"] = info.batch_size
    inputs = inspect.signature(region_inputs).parameters
    accepted.update({p: inputs[p].default if p in inputs else inspect.Parameter.empty for p in impl.input_options})
    return accepted


def catalogue_disagreements(catalogue: Mapping[str, StatisticInfo], implementations: Mapping[str, Implementation],
                            batch_constants: Mapping[str, int] | None = None) -> list[str]:
    """Every way ``catalogue`` and ``implementations`` disagree, one line each (empty: they agree).

    Each statistic must have a record and a function; the declared options must be exactly those its
    function accepts (``accepted_options``), each default a value of the declared type (a torch dtype
    for a :data:`~cbred_ray.catalog.DTYPE` option, and only for one), each input option a
    :data:`~cbred_ray.catalog.COUNT`; ``needs_batch``, ``needs_labels`` and ``random`` must match the
    function's ``batch``, ``labels`` and ``generator`` parameters; and ``batch_size`` the modules'
    ``batch_constants``.
    """
    problems = [f"statistic {name!r} of cbred_ray.catalog has no function in cbred_ray.stats.registry"
                for name in catalogue if name not in implementations]
    problems += [f"statistic {name!r} has a function in cbred_ray.stats.registry but no record in cbred_ray.catalog"
                 for name in implementations if name not in catalogue]
    for name, info in catalogue.items():
        if name not in implementations:
            continue
        impl = implementations[name]
        accepted = accepted_options(info, impl)
        problems += [f"cbred_ray.catalog declares option {key!r} for {name!r}, which its function does not accept"
                     for key in info.options if key not in accepted]
        problems += [f"the function of {name!r} accepts option {key!r}, which cbred_ray.catalog does not declare"
                     for key in accepted if key not in info.options]
        for key, default in accepted.items():
            kind = info.options.get(key)
            if kind is None or default is inspect.Parameter.empty or (key == "batch_size" and default is None):
                continue
            is_dtype = isinstance(default, torch.dtype)
            if is_dtype != (kind == DTYPE) or not (fits(str(default).removeprefix("torch."), kind) if is_dtype
                                                   else fits(default, kind)):
                problems.append(f"option {key!r} of {name!r}: default {default!r} is not of the type cbred_ray.catalog "
                                f"declares ({kind})")
        problems += [f"input option {key!r} of {name!r} must be declared a positive integer (cbred_ray.catalog.COUNT)"
                     for key in impl.input_options if info.options.get(key) != COUNT]
        params = inspect.signature(impl.fn).parameters
        for flag, param in (("needs_batch", "batch"), ("needs_labels", "labels"), ("random", "generator")):
            if getattr(info, flag) != (param in params):
                problems.append(f"cbred_ray.catalog says {name!r} has {flag}={getattr(info, flag)}, but its function "
                                f"{'takes' if param in params else 'takes no'} {param!r}")
        if impl.shared is not None and (impl.shared.random and not info.random
                                        or impl.shared.needs_labels and not info.needs_labels):
            problems.append(f"{name!r} shares the {impl.shared.name!r} pass, which draws random numbers or reads "
                            "labels, but cbred_ray.catalog does not say it does")
        if (batch_constants or {}).get(name, info.batch_size) != info.batch_size:
            problems.append(f"cbred_ray.catalog gives {name!r} batch_size {info.batch_size}, its module "
                            f"{batch_constants[name]}")
    return problems


def check_catalogue(catalogue: Mapping[str, StatisticInfo], implementations: Mapping[str, Implementation],
                    batch_constants: Mapping[str, int] | None = None) -> None:
    """Raise ImportError naming the first disagreement of ``catalogue_disagreements``."""
    problems = catalogue_disagreements(catalogue, implementations, batch_constants)
    if problems:
        raise ImportError(f"cbred_ray.catalog and cbred_ray.stats.registry disagree: {problems[0]}")


check_catalogue(CATALOGUE, IMPLEMENTATIONS, BATCH_CONSTANTS)
if not set(DTYPE_NAMES) <= {name for name in dir(torch) if isinstance(getattr(torch, name), torch.dtype)}:
    raise ImportError("cbred_ray.catalog.DTYPE_NAMES names a dtype this torch does not have")

STATISTICS: dict[str, Statistic] = {name: Statistic.attach(info, IMPLEMENTATIONS[name]) for name, info in CATALOGUE.items()}
"""Every statistic, in the catalogue's order, with its function."""
