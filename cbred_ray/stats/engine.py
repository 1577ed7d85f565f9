"""Compute a set of statistics for one architecture, failing each one independently."""

from __future__ import annotations

import inspect
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import torch

from cbred_ray.catalog import CATALOGUE, DTYPE, check_options
from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Networks
from cbred_ray.stats.linear_regions import region_inputs
from cbred_ray.stats.networks import KINDS, as_networks
from cbred_ray.stats.numerics import finite
from cbred_ray.stats.registry import STATISTICS, SharedPass

StatResult = tuple[float | None, str | None]
"""(value, None) on success; (None, reason) on failure; (value, note) when the value was
computed with a caveat (a batch halved after running out of memory, ``OOM_NOTE``)."""

OOM_NOTE = "out of memory"
"""Part of every reason or note that says a statistic ran out of memory (CUDA or CPU)."""

Options = Mapping[str, Mapping[str, Any]]
"""Per-statistic knobs: keyword arguments of the statistic's function (e.g. ``train_mode``,
``k``, ``chunk_size``), plus ``batch_size`` for a statistic that reads a batch: it then uses
the first ``batch_size`` images (default: ``Statistic.batch_size``, e.g. 128 for NASWOT, 32
for the NTK). Anything not given keeps the function's published default."""

_MIN_RETRY_BATCH = 2
__all__ = ["compute_stats", "effective_settings", "summarise_repeats", "validate_options"]


def validate_stat_names(names: Sequence[str]) -> None:
    """Raise BadInput naming the first statistic name that is not in the registry."""
    if isinstance(names, str):
        raise BadInput(f"statistic names must be a list, got the string {names!r}")
    for name in names:
        if name not in STATISTICS:
            raise BadInput(f"unknown statistic {name!r}; known: {', '.join(STATISTICS)}")


def validate_options(names: Sequence[str], options: Options | None) -> dict[str, dict[str, Any]]:
    """Check per-statistic options against the catalogue's declarations (``cbred_ray.catalog.check_options``,
    which the registry holds to the functions' signatures); BadInput names a bad key.

    Returns the options with dtype names (``"float64"``) turned into torch dtypes.
    """
    checked = check_options(names, options)
    for name, knobs in checked.items():
        for key, value in knobs.items():
            if CATALOGUE[name].options[key] == DTYPE:
                if not isinstance(getattr(torch, str(value), None), torch.dtype):
                    raise BadInput(f"option {key!r} for {name!r} must name a torch dtype, got {value!r}")
                knobs[key] = getattr(torch, str(value))
    return checked


def _short(err: BaseException) -> str:
    """A one-line reason for a failed statistic."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


Call = Callable[[int | None], float]
"""A statistic ready to run: its value on the first ``n`` images of its batch and their labels
(None for a data-free one)."""


def _out_of_memory(err: BaseException) -> str | None:
    """"CUDA" or "CPU" when ``err`` says an allocation failed, else None.

    torch raises ``torch.OutOfMemoryError`` on CUDA; on CPU its allocator raises a plain
    RuntimeError ("DefaultCPUAllocator: can't allocate memory: you tried to allocate ...").
    """
    if isinstance(err, torch.OutOfMemoryError):
        return "CUDA"
    if isinstance(err, MemoryError) or (isinstance(err, RuntimeError) and "can't allocate memory" in str(err)):
        return "CPU"
    return None


def _run_with_oom_retry(name: str, call: Call, images: int | None) -> StatResult:
    """Run ``call`` on its ``images`` images (None: a data-free statistic); when it runs out of memory
    (CUDA or CPU), retry a batch statistic on the first half of them (and their labels), down to 2.

    A kernel over half the batch is a different statistic (NASWOT's K_H is batch x batch),
    so the value is returned with a note saying on how many images it was computed.
    """
    current, kind = images, None
    while True:
        try:
            value = finite(call(current), name)
        except Exception as err:
            if _out_of_memory(err) is None:
                if current == images:
                    raise
                # failed for another reason on the fewer images: say both
                return None, f"{_short(err)} (on {current} of {images} images after {kind} {OOM_NOTE})"
            kind = _out_of_memory(err)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            if current is None or current // 2 < _MIN_RETRY_BATCH:
                tried = "" if current is None else f" on {current} of {images} images"
                return None, f"{kind} {OOM_NOTE}{tried}"
            current //= 2
            continue
        if current != images:
            return value, f"computed on {current} of {images} images after {kind} {OOM_NOTE}"
        return value, None


class _Passes:
    """Shared passes already run for one network setup: (pass, network, images, options) ->
    (result, error). A pass that fails is not run again for the next statistic that reads it;
    running out of memory is not remembered (the caller retries on fewer images)."""

    def __init__(self) -> None:
        self._done: dict[tuple, tuple[Any, BaseException | None]] = {}

    def result(self, shared: SharedPass, kind: str, net: torch.nn.Module, images: torch.Tensor | None,
               labels: torch.Tensor | None, options: dict[str, Any], extra: dict[str, Any]) -> Any:
        key = (shared.name, kind, None if images is None else len(images), tuple(sorted(options.items())))
        if key not in self._done:
            try:
                inputs = () if images is None else (images, labels) if shared.needs_labels else (images,)
                value = shared.run(net, *inputs, **options, **extra)
                self._done[key] = (value, None)
            except Exception as err:  # remembered, and raised for every statistic that reads it
                if _out_of_memory(err):
                    raise
                self._done[key] = (None, err)
        value, err = self._done[key]
        if err is not None:
            raise err
        return value


def _pass_options(shared: SharedPass) -> set[str]:
    params = inspect.signature(shared.run).parameters
    return {p for p in params if params[p].default is not inspect.Parameter.empty} - {"generator"}


def random_stream(seed: int, name: str) -> torch.Generator:
    """The CPU generator a statistic that draws its own random numbers (``Statistic.random``) reads:
    seeded by the run's seed and the statistic's name (its shared pass's, if it has one), so its
    values do not depend on which other statistics run, nor on the device."""
    return torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % 2**63)


def _input_options(knobs: dict[str, dict[str, Any]], kind: str) -> dict[str, Any]:
    """The input-shaping options (``Statistic.input_options``) given to the statistics on network ``kind``."""
    return {key: value for name, own in knobs.items() if STATISTICS[name].network == kind
            for key, value in own.items() if key in STATISTICS[name].input_options}


class _Planned(NamedTuple):
    images: int | None  # how many images of the batch it reads (None: all, or none needed)
    pass_options: dict[str, Any]  # options of its shared pass
    options: dict[str, Any]  # its other options
    shares: bool  # whether another requested statistic reads the same pass


def _plan(names: Sequence[str], knobs: dict[str, dict[str, Any]]) -> dict[str, _Planned]:
    """How each statistic runs: see ``_Planned``.

    Statistics share a pass when they name the same ``SharedPass`` on the same network,
    read the same number of images and give the same pass options.
    """
    plan, groups = {}, {}
    for name in names:
        stat = STATISTICS[name]
        own = {k: v for k, v in knobs.get(name, {}).items() if k not in stat.input_options}
        size = own.pop("batch_size", stat.batch_size) if stat.needs_batch else None
        passing = _pass_options(stat.shared) if stat.shared else set()
        pass_opts = {k: v for k, v in own.items() if k in passing}
        plan[name] = _Planned(size, pass_opts, {k: v for k, v in own.items() if k not in passing}, False)
        if stat.shared:
            key = (stat.shared.name, stat.network, size, tuple(sorted(pass_opts.items())))
            groups.setdefault(key, []).append(name)
    for members in groups.values():
        for name in members if len(members) > 1 else ():
            plan[name] = plan[name]._replace(shares=True)
    return plan


def _networks(
    names: Sequence[str],
    networks: Networks,
    batch: torch.Tensor | None,
    seed: int,
    num_classes: int,
    thin_inputs: Mapping[str, int] | None = None,
) -> dict[str, tuple[torch.nn.Module, torch.Tensor | None]]:
    """(network, its input batch) for each ``Statistic.network`` kind that ``names`` need.

    Each network is built on CPU right after ``torch.manual_seed(seed)``, so its weights do
    not depend on which other statistics were asked for (``cbred_ray.stats.networks`` says what
    each kind is for each space). "standard" and "small" read ``batch``; "thin" reads
    ``region_inputs`` cropped from ``batch`` (seeded by ``seed``; ``thin_inputs``: its
    ``samples`` and ``resolution``), all with their published defaults.
    """
    kinds = {STATISTICS[name].network for name in names} or {"standard"}
    thin_inputs = thin_inputs or {}
    setups: dict[str, tuple[torch.nn.Module, torch.Tensor | None]] = {}
    for kind in sorted(kinds, key=KINDS.index):
        torch.manual_seed(seed)
        if kind == "thin":
            inputs = None if batch is None else region_inputs(seed=seed, source_batch=batch, **thin_inputs)
        else:
            inputs = batch
        setups[kind] = networks.build(kind, num_classes), inputs
    return setups


def compute_stats(
    arch: Sequence[str] | Networks,
    names: Sequence[str],
    batch: torch.Tensor | None,
    seed: int,
    num_classes: int = 100,
    device: str = "cpu",
    options: Options | None = None,
    channels: int = 16,
    cells_per_stage: int = 5,
    labels: torch.Tensor | None = None,
) -> dict[str, StatResult]:
    """Build the network of ``arch`` once (``torch.manual_seed(seed)``, on CPU, then moved to
    ``device``) and compute each statistic in ``names`` on it; a statistic whose
    ``Statistic.network`` is "small" (the NTK) or "thin" (linear regions) runs instead on that
    network, also built once and seeded the same way (for "thin", with inputs cropped from ``batch``).
    ``arch`` is NB201 operation names in edge order, or the networks of any space's architecture
    (:meth:`cbred_ray.spaces.base.Space.networks`).

    Same ops, seed and batch give identical values on a given device. A statistic that
    fails (exception, NaN, infinity, singular kernel) yields ``(None, reason)`` and the
    others still run; see ``StatResult``. Each statistic runs in its published setup (e.g.
    NASWOT v1, v2 and the NTK in train mode) unless ``options``
    (see ``Options``) says otherwise. Raises BadInput for an unknown statistic name or
    option, a bad cell, or a batch statistic requested without a batch.
    ``channels`` and ``cells_per_stage`` shrink the standard network of NB201 operation names
    (tests); NB201 is 16 and 5. They do not change the thin network. ``labels``: the class of each
    image of ``batch``, which the statistics with ``needs_labels`` (the loss-gradient ones) read.
    """
    networks = as_networks(arch, channels, cells_per_stage)
    validate_stat_names(names)
    knobs = validate_options(names, options)
    validate_inputs(names, batch, labels, num_classes)
    if labels is not None:
        labels = labels.to(device)
    setups = {
        kind: (net.to(device), None if inputs is None else inputs.to(device))
        for kind, (net, inputs) in _networks(names, networks, batch, seed, num_classes,
                                             _input_options(knobs, "thin")).items()
    }
    results: dict[str, StatResult] = {}
    passes = _Passes()
    for name, (size, pass_opts, other_opts, sharing) in _plan(names, knobs).items():
        stat = STATISTICS[name]
        net, inputs = setups[stat.network]
        if size is not None and inputs is not None:
            inputs = inputs[:size]
        own_labels = labels if stat.needs_labels else None

        def call(n, stat=stat, net=net, inputs=inputs, own_labels=own_labels, sharing=sharing,
                 pass_opts=pass_opts, other_opts=other_opts):
            images = None if n is None else inputs[:n]
            read = None if own_labels is None else own_labels[:n]
            with_labels = (read,) if stat.needs_labels else ()
            extra = {"generator": random_stream(seed, stat.shared.name if stat.shared else stat.name)} \
                if stat.random else {}
            if sharing:  # the score reads the labels only where its pass has not (see ``Statistic``)
                result = passes.result(stat.shared, stat.network, net, images, read, pass_opts, extra)
                return stat.score(result, *(() if stat.shared.needs_labels else with_labels), **other_opts)
            if images is None:
                return stat.fn(net, **pass_opts, **other_opts, **extra)
            return stat.fn(net, images, *with_labels, **pass_opts, **other_opts, **extra)

        try:
            results[name] = _run_with_oom_retry(name, call, len(inputs) if stat.needs_batch else None)
        except Exception as err:  # one statistic's failure must not stop the others
            results[name] = (None, _short(err))
    return results


def validate_inputs(names: Sequence[str], batch: torch.Tensor | None, labels: torch.Tensor | None,
                    num_classes: int) -> None:
    """BadInput when a statistic of ``names`` needs an input batch and there is none, or needs labels and
    the batch has none (a synthetic batch, an unlabelled .npz), or a label is not a class of the network."""
    if batch is None and any(STATISTICS[name].needs_batch for name in names):
        raise BadInput(f"statistics {[n for n in names if STATISTICS[n].needs_batch]} need an input batch")
    labelled = [name for name in names if STATISTICS[name].needs_labels]
    if labelled and labels is None:
        raise BadInput(f"statistics {labelled} need labelled images; the batch source has no labels "
                       "(a synthetic batch, or an .npz without a 'labels' array)")
    if labelled and batch is not None and len(labels) != len(batch):
        raise BadInput(f"{len(labels)} labels for a batch of {len(batch)} images")
    if labelled and int(labels.max()) >= num_classes:
        raise BadInput(f"label {int(labels.max())} is not a class of a network with num_classes={num_classes}")


def effective_settings(names: Sequence[str], options: Options | None = None) -> dict[str, dict[str, Any]]:
    """Every knob each statistic will run with: its network, shared pass, number of images, and
    each keyword option of its function (and of its inputs) with the given value or its
    default. For the manifest, so that a run says everything it did, defaults included."""
    knobs = validate_options(names, options)
    settings = {}
    for name, planned in _plan(names, knobs).items():
        stat = STATISTICS[name]
        params = inspect.signature(stat.fn).parameters
        values = {p: params[p].default for p in params if params[p].default is not inspect.Parameter.empty}
        inputs = inspect.signature(region_inputs).parameters if stat.input_options else {}
        values.update({p: inputs[p].default for p in stat.input_options})
        values.update(knobs.get(name, {}))
        values.pop("batch_size", None)
        settings[name] = {
            "network": stat.network, "images": planned.images if stat.needs_batch else None,
            "shared_pass": stat.shared.name if planned.shares else None,
            "options": {k: str(v).removeprefix("torch.") if isinstance(v, torch.dtype) else v for k, v in values.items()},
        }
    return settings


def summarise_repeats(runs: Sequence[dict[str, StatResult]], names: Sequence[str]) -> dict[str, tuple[float | None, float | None, str | None]]:
    """Mean, spread (sample standard deviation) and reason of each statistic over repeated runs.

    Repeats that failed are left out of the mean and the spread; the reason says how many
    failed and why. With one successful value the spread is None; with none, the mean too.
    """
    summary = {}
    for name in names:
        values = [run[name][0] for run in runs if run[name][0] is not None]
        notes = sorted({run[name][1] for run in runs if run[name][1]})
        failed = len(runs) - len(values)
        reason = "; ".join(notes) or None
        if failed and values:
            reason = f"{failed} of {len(runs)} repeats failed: {reason}"
        mean = float(sum(values) / len(values)) if values else None
        spread = float(torch.tensor(values, dtype=torch.float64).std()) if len(values) > 1 else None
        summary[name] = (mean, spread, reason)
    return summary
