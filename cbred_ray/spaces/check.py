"""Conformance checks for a search space, in the spirit of scikit-learn's ``check_estimator``.

Anyone writing a :class:`~cbred_ray.spaces.base.Space` runs them on it::

    from cbred_ray.spaces.check import check_space, iter_checks

    check_space(MySpace())  # a list of CheckResult, or SpaceCheckFailed naming every failed check

    @pytest.mark.parametrize(("name", "check"), iter_checks(MySpace()))
    def test_my_space(name, check):  # one test per check, as sklearn's parametrize_with_checks
        check()

Every check runs on a seeded sample of the space (``sample`` architectures drawn by ``space.sample``
with ``seed``), and a failure names the architecture involved by its index and identifier:

``identifiers``
    ``parse_id(format_ids([i])[0]) == i`` for the sample and the first and last index; ``parse_ids`` and
    ``format_ids`` of many agree with the one-at-a-time forms; ``member_mask`` accepts the sample's
    identifiers; a malformed identifier (:data:`MALFORMED_IDS`) raises ``BadInput`` from ``parse_id``,
    ``parse_ids`` and ``member_mask``.
``sampling``
    ``sample(n, seed)`` is ``n`` distinct in-range indices, the same twice for the same seed, and not the
    same for every one of :data:`OTHER_SEEDS` other seeds (when ``n`` is less than the space's size).
``neighbours``
    ``neighbours(i)`` of each sampled index is a sorted array of distinct in-range indices without ``i``, not
    empty for every one of the sample, the same twice; at least one neighbour of each lists ``i`` back (a
    single change undone); ``mutate(i, rng)`` gives one of them, the same for the same ``rng`` seed. Local
    search and evolution (:mod:`cbred_ray.search`) move along it.
``canonical``
    the canonical index is in range, idempotent and the same whether asked for alone or in a batch; the
    standard network of a canonical architecture built twice after the same ``torch.manual_seed`` gives
    the same output on a fixed input (for every space, its canonical form the identity or not: the
    pipeline computes each statistic once per canonical index and fans it out). *Equivalent
    architectures compute the same function* is checked as: their networks, traced
    (:mod:`cbred_ray.graphs.traced`, when it is importable and the space does not opt out of tracing),
    are the same program up to renaming once dead code is eliminated (equal
    :func:`~cbred_ray.graphs.traced.graph_hash`). Comparing outputs is not sound: two different
    architectures' networks, even seeded alike, do not share weights (a dead branch draws random numbers
    too), so equal functions give different numbers. The pipeline builds only ``networks(canonical)``,
    which is sound exactly when that program identity holds. Costs are *not* required equal across
    equivalents: ``costs`` is of the network the benchmark builds from the identifier, and a dead branch
    holds parameters (NB201's tables count them); the detail says how many equivalent pairs differ.
``features``
    each of :data:`~cbred_ray.spaces.base.FEATURES` is a 2-D float array, one row per architecture, of
    finite values, of the same width for any sample (the sample, another sample, one architecture alone),
    a row the same whatever it is computed with; ``op_counts`` has ``len(kernel_types)`` columns of
    non-negative whole numbers; ``op_usage`` rows sum to 1 (or are all zero) and are ``op_counts`` over
    its row sum.
``costs``
    ``costs(indices, num_classes)`` equals :func:`~cbred_ray.stats.cost.params` and
    :func:`~cbred_ray.stats.cost.macs` (one image of ``input_shape``) of ``space.cost_network(i, num_classes)``
    (by default ``space.networks(i, space.cost_width).build("standard", num_classes)``) for every sampled index
    (canonical or not: a cost is of the architecture as its identifier gives it).
``graph``
    ``computational_graph(c)`` of each sampled canonical index (the graphs stage works on canonical
    indices; a cell space's graph of a non-canonical cell keeps its dead edges) keeps the project's
    conventions (:mod:`cbred_ray.graphs.computational`: node attribute ``partition`` "memory"/"kernel",
    kernel kinds among ``kernel_types``, only memory->kernel and kernel->memory edges, every memory node
    written by at most one kernel) and its kernel counts (:func:`cbred_ray.graphs.features.op_counts`)
    equal ``features([c], "op_counts")``.
``traced_graph``
    the space's graph against the traced network (:func:`cbred_ray.graphs.traced.trace_graph`), as the
    space's ``graph_of_network`` says (skipped when the tracer is not importable):

    * ``True``: the graph is of the whole standard network: the traced kernel counts over
      ``kernel_types`` equal the graph's, type by type;
    * ``False`` (the default; NB201, the cell spaces and NB101, whose graphs describe one cell): the
      network repeats the graph's cell a fixed number of times around a fixed frame, so over the sample the
      traced network's kernel total is ``base + m * (graph's kernel total)`` for one ``base`` and one
      whole ``m >= 1``. Kernel names are not compared: the tracer names NB101's projections ``conv1x1``,
      its cell graph ``proj1x1``. Networks whose output is a constant (NB201's cell without a path from
      input to output, where dead-code elimination removes the whole network) are left out of the fit;
    * ``None``: no relation is claimed and no network is traced (this check and ``canonical``'s program
      comparison are skipped).

    The network traced is the space's ``small`` one where it has one and ``graph_of_network`` is not
    ``True`` (a few copies of the cell: tracing is slow, node by node), else the standard network at
    :data:`TINY_WIDTH`.
``statistics`` (``statistics=True``)
    every statistic of :data:`cbred_ray.stats.registry.STATISTICS` whose network kind the space builds
    runs through :func:`cbred_ray.stats.engine.compute_stats` on :data:`STATISTICS_ARCHITECTURES`
    canonical architectures of the sample (those whose graph has kernels first), with networks at
    :data:`TINY_WIDTH` where the space builds them (else at its default width), a real labelled batch
    (:data:`STATISTICS_BATCH`; labels modulo ``num_classes``) and the cheaper settings of
    :data:`STATISTICS_OPTIONS`, and gives a finite value, or no value and a non-empty reason (the detail
    lists those); statistics on a network kind the space lacks, or calling a network method it does not
    declare (``network_methods``), are listed as refused; the built networks must define every method
    the space declares.
``parameters``
    ``describe()`` is JSON; ``params()`` survives a JSON round trip and
    ``type(space).from_params(type(space).validate_params(...))`` rebuilds a space with the same
    ``describe()``.

Two class attributes of :class:`Space` are there for the checker: ``cost_width`` (default None: the width
at which ``networks`` builds the network that ``costs`` measures; NB101 sets 128, the benchmark's stem,
while its statistics run at 8) and ``graph_of_network`` (above; default False). A space that builds no networks (``networks`` raises ``BadInput``: its statistics
are precomputed) passes the checks that need networks with a note saying so.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cbred_ray.catalog import refused_statistics
from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import FEATURES, Space

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["CHECKS", "CheckResult", "SpaceCheckFailed", "check_space", "graph_problems", "iter_checks"]

MALFORMED_IDS: tuple[str, ...] = ("", "not-an-architecture")
"""Identifiers no space should accept: ``parse_id`` must raise ``BadInput`` for each."""
OTHER_SEEDS = 5
"""How many other seeds ``sampling`` tries before it says the sample ignores its seed."""
EQUIVALENT_PAIRS = 3
"""At most this many (architecture, canonical form) pairs are traced by ``canonical``."""
DETERMINISM_ARCHITECTURES = 2
"""Canonical architectures whose network is built twice by ``canonical``."""
STATISTICS_ARCHITECTURES = 2
"""Canonical architectures on which ``statistics`` computes every statistic."""
STATISTICS_BATCH: tuple[str, int] = ("cifar10-sample20", 16)
"""(source, images) of the batch ``statistics`` reads: real CIFAR-10 images with their labels."""
STATISTICS_OPTIONS: dict[str, dict[str, int]] = {
    "ntk_cond": {"batch_size": 8}, "swap": {"repeats": 4}, "zen": {"batch_size": 16},
    **{name: {"batch_size": 16} for name in ("az_expressivity", "az_progressivity", "az_trainability")},
}
"""Cheaper settings of the slowest statistics (``compute_stats`` options): ``statistics`` asks whether each
statistic runs on the space's networks, not for its published value."""
TINY_WIDTH = 4
"""The ``networks(i, width)`` width for the statistics, the traces and the determinism check (the space's
default width is used where it cannot build one this narrow)."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: its name, whether it passed, what it found (one line) and its time."""

    name: str
    passed: bool
    detail: str
    seconds: float


class SpaceCheckFailed(AssertionError):
    """One or more checks failed; the message has one line per failed check. ``results`` holds every
    result (passed ones too), :attr:`failed` the names of the failed checks."""

    def __init__(self, space_label: str, results: Sequence[CheckResult]) -> None:
        self.results = list(results)
        bad = [r for r in self.results if not r.passed]
        lines = [f"space {space_label} fails {len(bad)} of {len(self.results)} checks:"]
        lines += [f"  {r.name}: {r.detail}" for r in bad]
        super().__init__("\n".join(lines))

    @property
    def failed(self) -> list[str]:
        return [r.name for r in self.results if not r.passed]


class _Problems(Exception):
    """What a check found wrong, one entry each; said as one line."""

    SHOWN = 4

    def __init__(self, problems: Sequence[str]) -> None:
        shown = "; ".join(problems[: self.SHOWN])
        more = len(problems) - self.SHOWN
        super().__init__(shown + (f" (and {more} more)" if more > 0 else ""))


def _short(err: BaseException) -> str:
    """``Type: message`` on one line, at most 200 characters of message."""
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


def _verdict(problems: Sequence[str], detail: str) -> str:
    """``detail`` when nothing was found wrong; else raise the problems."""
    if problems:
        raise _Problems(problems)
    return detail


# -- the state one run of the checks shares ---------------------------------------------------
class _Run:
    """The space, the options, and what several checks read: the sample, its canonical indices, traces."""

    def __init__(self, space: Space, sample: int, seed: int, num_classes: int, input_shape: Sequence[int]) -> None:
        self.space, self.sample_size, self.seed = space, sample, seed
        self.num_classes, self.input_shape = num_classes, tuple(input_shape)
        self._indices: np.ndarray | None = None
        self._canonical: np.ndarray | None = None
        self._traces: dict[tuple[int, str], Any] = {}

    @property
    def size(self) -> int | None:
        """The space's size, or None when it cannot say (not listable)."""
        try:
            return int(self.space.size)
        except (BadInput, NotImplementedError):
            return None

    @property
    def indices(self) -> np.ndarray:
        """The seeded sample (int64), drawn once."""
        if self._indices is None:
            count = self.sample_size if self.size is None else min(self.sample_size, self.size)
            try:
                self._indices = np.asarray(self.space.sample(count, self.seed), dtype=np.int64).ravel()
            except Exception as err:
                raise _Problems([f"cannot draw the sample, sample({count}, {self.seed}) raised {_short(err)}"]) from err
        return self._indices

    @property
    def canonical(self) -> np.ndarray:
        """The canonical index of each sampled index (int64), asked once."""
        if self._canonical is None:
            self._canonical = np.asarray(self.space.canonical_indices(self.indices), dtype=np.int64).ravel()
        return self._canonical

    @property
    def distinct_canonical(self) -> list[int]:
        return [int(c) for c in dict.fromkeys(self.canonical.tolist())]

    def label(self, index: int) -> str:
        """``architecture <index> '<identifier>'`` (the identifier left out when it cannot be formatted)."""
        try:
            return f"architecture {int(index)} {self.space.format_ids(np.asarray([index], dtype=np.int64))[0]!r}"
        except Exception:  # noqa: BLE001 - a label must not fail; identifiers are checked elsewhere
            return f"architecture {int(index)}"

    def no_networks(self) -> str | None:
        """Why the space builds no networks (``networks`` raises BadInput), or None when it builds them."""
        try:
            self.space.networks(self.distinct_canonical[0])
        except BadInput as err:
            return str(err)
        return None

    def build(self, index: int, kind: str, width: int | None = TINY_WIDTH):
        """``networks(index, width).build(kind, num_classes)``, right after ``torch.manual_seed(seed)``; at
        the space's default width when it cannot build one of ``width``."""
        import torch

        try:
            torch.manual_seed(self.seed)
            return self.space.networks(int(index), width).build(kind, self.num_classes)
        except Exception:
            if width is None:
                raise
            torch.manual_seed(self.seed)
            return self.space.networks(int(index)).build(kind, self.num_classes)

    @property
    def trace_kind(self) -> str:
        """The network traced: ``small`` where the space has one and its graph is not of the whole network."""
        whole = self.space.graph_of_network is True
        return "small" if "small" in self.space.network_kinds and not whole else "standard"

    def trace(self, index: int) -> nx.DiGraph:
        """The traced graph (:func:`cbred_ray.graphs.traced.trace_graph`) of one architecture's network."""
        from cbred_ray.graphs.traced import trace_graph

        key = (int(index), self.trace_kind)
        if key not in self._traces:
            try:
                self._traces[key] = trace_graph(self.build(index, self.trace_kind), self.input_shape)
            except BadInput as err:
                raise _Problems([f"cannot trace the {self.trace_kind} network of {self.label(index)}: {err} (a "
                                 "space whose networks cannot be traced sets graph_of_network = None)"]) from err
        return self._traces[key]


def _tracer_available() -> str | None:
    """Why no traced check runs (no tracer module), or None."""
    try:
        import cbred_ray.graphs.traced  # noqa: F401
    except ImportError as err:
        return f"cbred_ray.graphs.traced is not available ({_short(err)})"
    return None


def _tracing_off(run: _Run) -> str | None:
    """Why the checker does not trace this space's networks, or None when it does."""
    if run.space.graph_of_network is None:
        return "the space opts out of tracing (graph_of_network = None)"
    return _tracer_available() or run.no_networks()


# -- 1. identifiers ---------------------------------------------------------------------------
def check_identifiers(run: _Run) -> str:
    """Identifiers round-trip, many-at-once agrees with one-at-a-time, malformed ones raise BadInput."""
    space, problems = run.space, []
    ends = [] if run.size is None else [0, run.size - 1]
    indices = np.unique(np.concatenate([run.indices, np.asarray(ends, dtype=np.int64)]))
    texts = list(space.format_ids(indices))
    if len(texts) != len(indices):
        return _verdict([f"format_ids gives {len(texts)} identifiers for {len(indices)} indices"], "")
    for index, text in zip(indices.tolist(), texts):
        alone = space.format_ids(np.asarray([index], dtype=np.int64))
        if list(alone) != [text]:
            problems.append(f"format_ids of index {index} alone gives {list(alone)!r}, with others {text!r}")
        if not isinstance(text, str) or not text:
            problems.append(f"format_ids gives {text!r} for index {index}, not a non-empty string")
            continue
        try:
            back = int(space.parse_id(text))
        except Exception as err:  # noqa: BLE001 - any failure to parse a formatted identifier is the finding
            problems.append(f"identifier {text!r} of architecture {index} does not parse back: {_short(err)}")
            continue
        if back != index:
            problems.append(f"parse_id({text!r}) gives {back}, not {index}: architecture {index} does not round-trip")
    if not problems:
        many = np.asarray(space.parse_ids(texts), dtype=np.int64)
        if not np.array_equal(many, indices):
            k = int(np.flatnonzero(many != indices)[0]) if len(many) == len(indices) else 0
            problems.append(f"parse_ids of many gives {many.tolist()[k:k + 1]} for {texts[k]!r} "
                            f"(architecture {int(indices[k])}), parse_id gives {int(indices[k])}")
        mask = np.asarray(space.member_mask(texts), dtype=bool)
        if mask.shape != (len(texts),) or not mask.all():
            refused = [t for t, m in zip(texts, mask) if not m][:2]
            problems.append(f"member_mask refuses identifiers of the space: {refused}")
    problems += _malformed_problems(space)
    return _verdict(problems, f"{len(indices)} identifiers round-trip, {len(MALFORMED_IDS)} malformed ones refused")


def _malformed_problems(space: Space) -> list[str]:
    """A malformed identifier must raise BadInput from parse_id, parse_ids and member_mask."""
    problems = []
    for bad in MALFORMED_IDS:
        for what, call in (("parse_id", lambda b: space.parse_id(b)), ("parse_ids", lambda b: space.parse_ids([b])),
                           ("member_mask", lambda b: space.member_mask([b]))):
            try:
                got = call(bad)
            except BadInput:
                continue
            except Exception as err:  # noqa: BLE001 - the wrong exception type is the finding
                problems.append(f"{what}({bad!r}) raises {_short(err)}, not BadInput")
                continue
            problems.append(f"{what}({bad!r}) accepts the malformed identifier (gives {got!r})")
    return problems


# -- 2. sampling ------------------------------------------------------------------------------
def check_sampling(run: _Run) -> str:
    """Seeded sampling: n distinct in-range indices, the same for the same seed, not for every other seed."""
    space, problems, size = run.space, [], run.size
    count = len(run.indices)
    first = np.asarray(space.sample(count, run.seed)).ravel()
    again = np.asarray(space.sample(count, run.seed)).ravel()
    if len(first) != count or len(np.unique(first)) != count:
        problems.append(f"sample({count}, {run.seed}) gives {len(first)} indices, {len(np.unique(first))} distinct")
    if not np.issubdtype(first.dtype, np.integer):
        problems.append(f"sample gives {first.dtype} indices, not integers")
    if size is not None and len(first) and (first.min() < 0 or first.max() >= size):
        bad = first[(first < 0) | (first >= size)][0]
        problems.append(f"sample({count}, {run.seed}) gives index {bad}, outside [0, {size})")
    if not np.array_equal(first, again):
        problems.append(f"sample({count}, {run.seed}) differs between two calls")
    if size is not None and count < size:
        others = [np.sort(np.asarray(space.sample(count, run.seed + k)).ravel()) for k in range(1, OTHER_SEEDS + 1)]
        if all(np.array_equal(np.sort(first), other) for other in others):
            problems.append(f"sample({count}, seed) gives the same indices for seeds {run.seed} to "
                            f"{run.seed + OTHER_SEEDS} of a space of {size}: the seed is ignored")
    return _verdict(problems, f"sample({count}, {run.seed}) reproducible, distinct and in range")


# -- neighbourhood ----------------------------------------------------------------------------
def check_neighbours(run: _Run) -> str:
    """Neighbours: sorted, distinct, in range, without the architecture, reproducible, reversible; mutate picks
    one of them, reproducibly."""
    space, problems, sizes = run.space, [], []
    for index in run.indices.tolist():
        where = f"neighbours of {run.label(index)}"
        try:
            found = np.asarray(space.neighbours(index))
        except BadInput as err:
            problems.append(f"{where}: {err}")
            break
        sizes.append(len(found))
        if not np.issubdtype(found.dtype, np.integer) or found.ndim != 1:
            problems.append(f"{where} are {found.dtype} of shape {found.shape}, not a 1-D array of indices")
            continue
        if len(found) and (found.min() < 0 or (run.size is not None and found.max() >= run.size)):
            problems.append(f"{where} include an index outside the space")
        if index in found:
            problems.append(f"{where} include itself")
        if np.any(np.diff(found) <= 0):
            problems.append(f"{where} are not sorted and distinct")
        if not np.array_equal(found, np.asarray(space.neighbours(index))):
            problems.append(f"{where} differ between two calls")
        if problems or not len(found):
            continue
        if not any(index in np.asarray(space.neighbours(int(j))) for j in found[:16]):
            problems.append(f"{where}: none of the first {min(16, len(found))} lists it back (a change not undone)")
        picked = [space.mutate(index, np.random.default_rng(run.seed)) for _ in range(2)]
        if picked[0] != picked[1] or picked[0] not in found:
            problems.append(f"mutate({run.label(index)}) gives {picked}, not one neighbour for one seed")
    if sizes and not any(sizes):
        problems.append("no sampled architecture has a neighbour")
    return _verdict(problems, f"{min(sizes, default=0)} to {max(sizes, default=0)} neighbours per architecture")


# -- 3. canonical index -----------------------------------------------------------------------
def check_canonical(run: _Run) -> str:
    """Canonical indices in range, idempotent, batch-independent; equivalents traced as one program; a
    canonical network deterministic under the same seed (see the module docstring)."""
    space, problems, size = run.space, [], run.size
    indices, canon = run.indices, run.canonical
    if canon.shape != indices.shape:
        return _verdict([f"canonical_indices gives {canon.shape[0]} indices for {len(indices)}"], "")
    if size is not None and (canon.min() < 0 or canon.max() >= size):
        k = int(np.flatnonzero((canon < 0) | (canon >= size))[0])
        problems.append(f"{run.label(indices[k])} has canonical index {int(canon[k])}, outside [0, {size})")
    again = np.asarray(space.canonical_indices(canon), dtype=np.int64).ravel()
    for k in np.flatnonzero(again != canon).tolist():
        problems.append(f"{run.label(indices[k])}: canonical index {int(canon[k])}, whose own canonical index is "
                        f"{int(again[k])} (not idempotent)")
    for index, expected in zip(indices.tolist(), canon.tolist()):
        alone = int(np.asarray(space.canonical_indices(np.asarray([index], dtype=np.int64))).ravel()[0])
        if alone != expected:
            problems.append(f"{run.label(index)}: canonical index {alone} alone, {expected} in a batch")
    if problems:
        return _verdict(problems, "")
    pairs = [(int(i), int(c)) for i, c in zip(indices, canon) if i != c]
    notes = [f"{len(run.distinct_canonical)} canonical of {len(indices)}, {len(pairs)} equivalent pairs"]
    problems += _equivalent_programs(run, pairs, notes)
    problems += _deterministic(run, notes)
    notes.append(_cost_note(run, pairs))
    return _verdict(problems, "; ".join(n for n in notes if n))


def _equivalent_programs(run: _Run, pairs: Sequence[tuple[int, int]], notes: list[str]) -> list[str]:
    """Each (architecture, canonical form) pair traces to the same program (equal graph hashes)."""
    off = _tracing_off(run)
    if off or not pairs:
        notes.append(f"programs not compared: {off}" if off else "")
        return []
    from cbred_ray.graphs.traced import graph_hash

    problems = []
    for index, canon in pairs[:EQUIVALENT_PAIRS]:
        if graph_hash(run.trace(index)) != graph_hash(run.trace(canon)):
            problems.append(f"{run.label(index)} and its canonical form {run.label(canon)} trace to different "
                            f"programs ({run.trace_kind} network, dead code eliminated): they are not equivalent")
    notes.append(f"{min(len(pairs), EQUIVALENT_PAIRS)} pairs trace to one program ({run.trace_kind} network)")
    return problems


def _deterministic(run: _Run, notes: list[str]) -> list[str]:
    """The standard network of a canonical architecture, built twice after the same seed, gives one output."""
    off = run.no_networks()
    if off:
        notes.append(f"no networks: {off}")
        return []
    import torch

    problems = []
    picked = run.distinct_canonical[:DETERMINISM_ARCHITECTURES]
    image = torch.randn(run.input_shape, generator=torch.Generator().manual_seed(run.seed))
    for canon in picked:
        outputs = []
        for _ in range(2):
            net = run.build(canon, "standard").eval()
            with torch.no_grad():
                outputs.append(net(image))
        if not torch.equal(outputs[0], outputs[1]):
            problems.append(f"{run.label(canon)}: its network built twice with seed {run.seed} gives different "
                            "outputs on one input")
    notes.append(f"{len(picked)} canonical networks deterministic")
    return problems


def _cost_note(run: _Run, pairs: Sequence[tuple[int, int]]) -> str:
    """How many equivalent pairs differ in cost (information: costs are per identifier, not per class)."""
    if not pairs:
        return ""
    flat = np.asarray([i for pair in pairs for i in pair], dtype=np.int64)
    try:
        params, _ = run.space.costs(flat, run.num_classes)
    except Exception as err:  # noqa: BLE001 - the costs check says what is wrong with costs
        return f"costs of equivalents not compared ({_short(err)})"
    differ = int((np.asarray(params)[0::2] != np.asarray(params)[1::2]).sum())
    return f"{differ} of {len(pairs)} equivalent pairs differ in cost (costs are of the identifier's network)"


# -- 4. features ------------------------------------------------------------------------------
def check_features(run: _Run) -> str:
    """Every feature: 2-D float, finite, one fixed width, rows independent of the batch; op_counts and
    op_usage consistent with each other and with ``kernel_types``."""
    space, problems = run.space, []
    canon = np.asarray(run.distinct_canonical, dtype=np.int64)
    other = np.unique(space.canonical_indices(space.sample(len(run.indices), run.seed + 1)))
    widths = {}
    for name in FEATURES:
        rows = np.asarray(space.features(canon, name))
        if rows.ndim != 2 or rows.shape[0] != len(canon) or not np.issubdtype(rows.dtype, np.floating):
            problems.append(f"{name}: features of {len(canon)} architectures is {rows.dtype} {rows.shape}, "
                            f"not float rows ({len(canon)}, width)")
            continue
        if not np.isfinite(rows).all():
            row = int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0])
            problems.append(f"{name}: non-finite value for {run.label(canon[row])}")
        alone = np.asarray(space.features(canon[:1], name))
        elsewhere = np.asarray(space.features(other, name))
        if {alone.shape[-1], elsewhere.shape[-1]} != {rows.shape[1]}:
            problems.append(f"{name}: width {rows.shape[1]} for the sample, {alone.shape[-1]} for "
                            f"{run.label(canon[0])} alone, {elsewhere.shape[-1]} for another sample: the width "
                            "changes with the sample")
        elif not np.array_equal(alone.reshape(-1), rows[0]):
            problems.append(f"{name}: the row of {run.label(canon[0])} differs alone and in a batch")
        widths[name] = rows
    problems += _count_problems(run, canon, widths)
    shape = ", ".join(f"{name} {rows.shape[1]}" for name, rows in widths.items())
    return _verdict(problems, f"widths {shape} on {len(canon)} canonical architectures")


def _count_problems(run: _Run, canon: np.ndarray, rows: dict[str, np.ndarray]) -> list[str]:
    """op_counts: one column per kernel type, whole non-negative numbers; op_usage: its shares."""
    problems = []
    counts, usage = rows.get("op_counts"), rows.get("op_usage")
    kinds = tuple(run.space.kernel_types)
    if counts is not None and counts.shape[1] != len(kinds):
        problems.append(f"op_counts has {counts.shape[1]} columns for {len(kinds)} kernel_types")
    if counts is not None and ((counts < 0) | (counts != np.round(counts))).any():
        bad = int(np.flatnonzero(((counts < 0) | (counts != np.round(counts))).any(axis=1))[0])
        problems.append(f"op_counts of {run.label(canon[bad])} are not whole non-negative numbers: "
                        f"{counts[bad].tolist()}")
    if usage is not None:
        sums = usage.sum(axis=1)
        wrong = ~(np.isclose(sums, 1.0) | ((usage == 0).all(axis=1)))
        if wrong.any():
            k = int(np.flatnonzero(wrong)[0])
            problems.append(f"op_usage of {run.label(canon[k])} sums to {sums[k]!r}, not 1 (or all zero)")
        if counts is not None and counts.shape == usage.shape:
            total = counts.sum(axis=1, keepdims=True)
            shares = np.divide(counts, total, out=np.zeros_like(counts, dtype=np.float64), where=total > 0)
            off = ~np.isclose(usage, shares).all(axis=1)
            if off.any():
                k = int(np.flatnonzero(off)[0])
                problems.append(f"op_usage of {run.label(canon[k])} is not op_counts over its sum")
    return problems


# -- 5. costs ---------------------------------------------------------------------------------
def check_costs(run: _Run) -> str:
    """``costs`` equals the params and MACs of ``cost_network(i, num_classes)``."""
    off = run.no_networks()
    if off:
        return f"skipped: the space builds no networks ({off})"
    from cbred_ray.stats.cost import macs, params

    space, problems, indices = run.space, [], run.indices
    width = space.cost_width
    got_params, got_macs = (np.asarray(v, dtype=np.float64).ravel() for v in space.costs(indices, run.num_classes))
    if got_params.shape != indices.shape or got_macs.shape != indices.shape:
        return _verdict([f"costs gives {got_params.shape} params and {got_macs.shape} MACs for {len(indices)}"], "")
    image = (1, *run.input_shape[1:])
    for index, want_params, want_macs in zip(indices.tolist(), got_params, got_macs):
        net = space.cost_network(index, run.num_classes)
        built_params, built_macs = params(net), macs(net, image)
        if not math.isclose(want_params, built_params, rel_tol=1e-9, abs_tol=1e-6):
            problems.append(f"{run.label(index)}: costs gives {want_params:.0f} parameters, its standard network at "
                            f"width {width} has {built_params:.0f}")
        if not math.isclose(want_macs, built_macs, rel_tol=1e-9, abs_tol=1e-6):
            problems.append(f"{run.label(index)}: costs gives {want_macs:.0f} MACs, its standard network at width "
                            f"{width} has {built_macs:.0f} on {image}")
    return _verdict(problems, f"params and MACs of {len(indices)} architectures match their networks "
                              f"(width {width}, {run.num_classes} classes)")


# -- 6. computational graph -------------------------------------------------------------------
def graph_problems(graph: nx.DiGraph, kernel_types: Sequence[str]) -> list[str]:
    """What breaks the bipartite conventions of :mod:`cbred_ray.graphs.computational` in ``graph``."""
    from cbred_ray.graphs.computational import KERNEL, MEMORY

    problems = []
    parts = dict(graph.nodes(data="partition"))
    for node, part in parts.items():
        if part not in (MEMORY, KERNEL):
            problems.append(f"node {node!r} has partition {part!r}")
        elif part == KERNEL and graph.nodes[node].get("kind") not in kernel_types:
            problems.append(f"kernel {node!r} of kind {graph.nodes[node].get('kind')!r} not in kernel_types")
    for a, b in graph.edges:
        if {parts.get(a), parts.get(b)} != {MEMORY, KERNEL}:
            problems.append(f"edge {a!r} -> {b!r} joins {parts.get(a)!r} to {parts.get(b)!r}")
    for node, part in parts.items():
        if part == MEMORY and graph.in_degree(node) > 1:
            problems.append(f"memory node {node!r} is written by {graph.in_degree(node)} kernels")
    return problems


def check_graph(run: _Run) -> str:
    """Each canonical architecture's graph keeps the conventions and counts the kernels ``op_counts`` says."""
    from cbred_ray.graphs.features import op_counts

    space, problems = run.space, []
    kinds = tuple(space.kernel_types)
    canon = run.distinct_canonical
    features = np.asarray(space.features(np.asarray(canon, dtype=np.int64), "op_counts"))
    for row, index in enumerate(canon):
        graph = space.computational_graph(index)
        broken = graph_problems(graph, kinds)
        if broken:
            more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
            problems.append(f"graph of {run.label(index)}: {broken[0]}{more}")
            continue
        counts = op_counts(graph, kinds)
        if not np.array_equal(counts, features[row]):
            problems.append(f"graph of {run.label(index)} has kernel counts {counts.tolist()}, its op_counts "
                            f"feature says {features[row].tolist()}")
    return _verdict(problems, f"graphs of {len(canon)} canonical architectures keep the conventions and match "
                              "op_counts")


def check_traced_graph(run: _Run) -> str:
    """The space's graph against the traced network, as ``graph_of_network`` says (module docstring)."""
    off = _tracing_off(run)
    if off:
        return f"skipped: {off}"
    if run.space.graph_of_network is True:
        return _whole_network(run)
    return _repeated_cell(run)


def _whole_network(run: _Run) -> str:
    """graph_of_network = True: traced kernel counts equal the graph's, type by type."""
    from cbred_ray.graphs.features import op_counts
    from cbred_ray.graphs.traced import kernel_counts

    space, problems, kinds = run.space, [], tuple(run.space.kernel_types)
    for index in run.distinct_canonical:
        try:
            traced = kernel_counts(run.trace(index), kinds)
        except BadInput as err:
            problems.append(f"traced network of {run.label(index)}: {err}")
            continue
        own = op_counts(space.computational_graph(index), kinds)
        if not np.array_equal(traced, own):
            problems.append(f"{run.label(index)}: traced kernel counts {traced.tolist()}, its graph's {own.tolist()} "
                            f"(over {list(kinds)})")
    return _verdict(problems, f"traced standard networks of {len(run.distinct_canonical)} architectures have "
                              "their graphs' kernel counts")


def _repeated_cell(run: _Run) -> str:
    """graph_of_network = False: traced kernel total = base + m * graph kernel total, one base, one whole m."""
    from cbred_ray.graphs.computational import KERNEL, nodes_of

    space, points, constant = run.space, [], []
    for index in run.distinct_canonical:
        traced = run.trace(index)
        if not traced.graph.get("outputs", [True]):
            constant.append(index)
            continue
        points.append((index, len(nodes_of(space.computational_graph(index), KERNEL)), len(nodes_of(traced, KERNEL))))
    cells = np.asarray([p[1] for p in points], dtype=np.float64)
    nets = np.asarray([p[2] for p in points], dtype=np.float64)
    note = f"; {len(constant)} with a constant output left out" if constant else ""
    if len(set(cells.tolist())) < 2:
        if len(set(nets.tolist())) > 1:
            k = int(np.flatnonzero(nets != nets[0])[0])
            return _verdict([f"{run.label(points[0][0])} and {run.label(points[k][0])} have graphs of "
                             f"{cells[0]:.0f} kernels but networks of {nets[0]:.0f} and {nets[k]:.0f}"], "")
        return f"too few distinct graph sizes in the sample to fit the repeat ({len(points)} traced{note})"
    lo, hi = int(np.argmin(cells)), int(np.argmax(cells))
    slope = (nets[hi] - nets[lo]) / (cells[hi] - cells[lo])
    base = nets[lo] - slope * cells[lo]
    off = np.flatnonzero(~np.isclose(nets, base + slope * cells))
    if slope < 1 or not math.isclose(slope, round(slope)) or len(off):
        k = int(off[0]) if len(off) else hi
        return _verdict([f"the traced {run.trace_kind} network is not a repeat of the graph: {run.label(points[k][0])} "
                         f"has {cells[k]:.0f} graph kernels and {nets[k]:.0f} traced, the fit over the sample gives "
                         f"{base:.1f} + {slope:.2f} x graph kernels"], "")
    return (f"traced {run.trace_kind} networks of {len(points)} architectures = {base:.0f} + {slope:.0f} x "
            f"graph kernels{note}")


# -- 7. statistics ----------------------------------------------------------------------------
def check_statistics(run: _Run) -> str:
    """Every registered statistic the space's networks can run gives a finite value or a reason; the others are
    refused with theirs; the networks define the methods the space declares (``network_methods``)."""
    off = run.no_networks()
    if off:
        return f"skipped: the space builds no networks ({off})"
    from cbred_ray.stats.data import load_batch
    from cbred_ray.stats.engine import compute_stats
    from cbred_ray.stats.registry import STATISTICS

    space, problems = run.space, []
    refused = refused_statistics(list(STATISTICS), space)
    names = [name for name in STATISTICS if name not in refused]
    batch, labels, _ = load_batch(STATISTICS_BATCH[0], STATISTICS_BATCH[1], run.seed, False)
    labels = None if labels is None else labels % run.num_classes
    failed: dict[str, str] = {}
    picked = _statistics_picks(run)
    for index in picked:
        networks = _statistics_networks(run, index)
        net = networks.build("standard", run.num_classes)
        lacking = [m for m in space.network_methods if not callable(getattr(net, m, None))]
        if lacking:
            problems.append(f"network_methods declares {lacking[0]} but the network of {run.label(index)} "
                            f"({type(net).__name__}) does not define it")
        try:
            results = compute_stats(networks, names, batch, run.seed, num_classes=run.num_classes, labels=labels,
                                    options={k: v for k, v in STATISTICS_OPTIONS.items() if k in names})
        except Exception as err:  # noqa: BLE001 - the engine refusing the space's networks is the finding
            problems.append(f"compute_stats on {run.label(index)} raised {_short(err)}")
            continue
        for name in names:
            value, reason = results.get(name, (None, None))
            if name not in results:
                problems.append(f"{name}: no result for {run.label(index)}")
            elif value is None and not (isinstance(reason, str) and reason.strip()):
                problems.append(f"{name}: no value and no reason for {run.label(index)}")
            elif value is not None and not math.isfinite(float(value)):
                problems.append(f"{name}: value {value!r} for {run.label(index)}")
            elif value is None:
                failed.setdefault(name, f"{run.label(index)}: {reason}")
    detail = f"{len(names)} statistics on {len(picked)} architectures"
    if failed:
        detail += f"; failed with a reason: {', '.join(f'{n} ({r})' for n, r in failed.items())}"
    if refused:
        detail += f"; refused: {'; '.join(f'{n} ({r})' for n, r in refused.items())}"
    return _verdict(problems, detail)


def _statistics_picks(run: _Run) -> list[int]:
    """The first :data:`STATISTICS_ARCHITECTURES` canonical architectures of the sample whose graph has a
    kernel (an empty network makes most statistics fail, which says little), then any others."""
    canon = run.distinct_canonical
    counts = np.asarray(run.space.features(np.asarray(canon, dtype=np.int64), "op_counts")).sum(axis=1)
    ordered = [c for c, n in zip(canon, counts) if n > 0] + [c for c, n in zip(canon, counts) if n <= 0]
    return ordered[:STATISTICS_ARCHITECTURES]


def _statistics_networks(run: _Run, index: int):
    """``networks(index, TINY_WIDTH)`` when its standard network builds, else ``networks(index)``."""
    networks = run.space.networks(int(index), TINY_WIDTH)
    try:
        networks.build("standard", run.num_classes)
    except Exception:  # noqa: BLE001 - too narrow for this architecture: the default width
        return run.space.networks(int(index))
    return networks


# -- 8. parameters ----------------------------------------------------------------------------
def check_parameters(run: _Run) -> str:
    """describe() is JSON; params() through JSON rebuilds a space with the same describe()."""
    space, cls, problems = run.space, type(run.space), []
    described = space.describe()
    try:
        json.dumps(described)
    except (TypeError, ValueError) as err:
        problems.append(f"describe() is not JSON-serialisable: {_short(err)}")
    try:
        text = json.dumps(space.params())
    except (TypeError, ValueError) as err:
        return _verdict([*problems, f"params() is not JSON-serialisable: {_short(err)}"], "")
    rebuilt = cls.from_params(cls.validate_params(json.loads(text), getattr(space, "name", None)))
    if type(rebuilt) is not cls:
        problems.append(f"from_params builds a {type(rebuilt).__name__}, not a {cls.__name__}")
    if rebuilt.describe() != described:
        problems.append(f"from_params(validate_params(params())) describes itself as {rebuilt.describe()!r}, "
                        f"not {described!r}")
    return _verdict(problems, f"params {text} rebuild the space")


# -- running them ------------------------------------------------------------------------------
CHECKS: dict[str, Callable[[_Run], str]] = {
    "identifiers": check_identifiers,
    "sampling": check_sampling,
    "neighbours": check_neighbours,
    "canonical": check_canonical,
    "features": check_features,
    "costs": check_costs,
    "graph": check_graph,
    "traced_graph": check_traced_graph,
    "statistics": check_statistics,
    "parameters": check_parameters,
}
"""Every check, by name, in the order it runs."""


def _space_label(space: Space) -> str:
    return f"{getattr(space, 'name', '?')!r} ({type(space).__qualname__})"


def _run_one(name: str, run: _Run) -> CheckResult:
    """One check as a result: passed with its detail, or failed with what it found (or what it raised)."""
    started = time.perf_counter()
    try:
        detail, passed = CHECKS[name](run), True
    except _Problems as found:
        detail, passed = str(found), False
    except Exception as err:  # noqa: BLE001 - a space method that crashes fails the check that called it
        detail, passed = f"raised {_short(err)}", False
    return CheckResult(name, passed, " ".join(detail.split()), time.perf_counter() - started)


def _selected(statistics: bool, skip: Collection[str]) -> list[str]:
    unknown = sorted(set(skip) - set(CHECKS))
    if unknown:
        raise BadInput(f"unknown checks {unknown} to skip (known: {', '.join(CHECKS)})")
    return [name for name in CHECKS if name not in skip and (statistics or name != "statistics")]


def iter_checks(space: Space, *, sample: int = 8, seed: int = 0, num_classes: int = 10, statistics: bool = True,
                input_shape: Sequence[int] = (2, 3, 32, 32),
                skip: Collection[str] = ()) -> Iterator[tuple[str, Callable[[], CheckResult]]]:
    """``(name, check)`` for each check (for ``pytest.mark.parametrize``): ``check()`` returns its
    :class:`CheckResult` or raises :class:`SpaceCheckFailed`. The checks share one seeded sample, drawn
    when the first of them runs. Options as :func:`check_space`."""
    run = _Run(space, sample, seed, num_classes, input_shape)
    for name in _selected(statistics, skip):
        yield name, _bound(name, run)


def _bound(name: str, run: _Run) -> Callable[[], CheckResult]:
    def check() -> CheckResult:
        result = _run_one(name, run)
        if not result.passed:
            raise SpaceCheckFailed(_space_label(run.space), [result])
        return result

    check.__name__ = f"check_{name}"
    return check


def check_space(space: Space, *, sample: int = 8, seed: int = 0, num_classes: int = 10, statistics: bool = True,
                input_shape: Sequence[int] = (2, 3, 32, 32), skip: Collection[str] = ()) -> list[CheckResult]:
    """Run every check (:data:`CHECKS`, the module docstring says what each asserts) on ``sample``
    architectures drawn with ``seed``; the results, or :class:`SpaceCheckFailed` listing every failed
    check with a one-line reason.

    ``num_classes``: the networks' classes (the statistics' labels are taken modulo it);
    ``statistics``: run the slow ``statistics`` check; ``input_shape``: the input of the traced and
    determinism networks (MACs are counted on one image of it); ``skip``: names of checks not to run.
    The networks are tiny: on a CPU shared with other processes, ``torch.set_num_threads(1)`` around the
    call keeps OpenMP's waiting threads from multiplying its time.
    """
    run = _Run(space, sample, seed, num_classes, input_shape)
    results = [_run_one(name, run) for name in _selected(statistics, skip)]
    if not all(r.passed for r in results):
        raise SpaceCheckFailed(_space_label(space), results)
    return results
