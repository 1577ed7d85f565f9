"""What every stage knows of a search space: the one interface NB201, N-node cell spaces and
NAS-Bench-101 implement.

An architecture is an integer *index* in ``[0, size)``; the stages pass indices (and arrays of
them) and never hold a large space whole. Each space also has

- an *identifier* per architecture, its own text form (NB201's arch strings, NB101's module
  hashes), stored in the column ``id_column`` of every stage and used to join a benchmark table;
- a *canonical index*, the deduplication key: architectures with the same canonical index
  compute the same function, so every expensive computation runs once per canonical index;
- clustering *features* of canonical architectures (:data:`FEATURES`), computed without
  building a network, and the bipartite *computational graph* of an architecture;
- the *cost model* (parameters and MACs of the network as the benchmark builds it) and the
  *networks* (:meth:`Space.networks`) on which ``cbred_ray.stats`` computes the statistics;
- its *neighbourhood* (:meth:`Space.neighbours`, :meth:`Space.mutate`): the architectures one operation or one
  edge away, which local search and evolution move along (``cbred_ray.search``); a space whose index is a
  mixed-radix number of its choices says so (:attr:`Space.radices`) and gets it for free;
- its *parameters*, a pydantic model ``Params`` (validated without torch when a config is loaded)
  from which :meth:`Space.from_params` builds it, and the benchmark table it ships, if any.

Every space is found through :mod:`cbred_ray.spaces.registry`. Ray never appears here: the
pipeline maps these pure methods over shards.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from cbred_ray.errors import BadInput

if TYPE_CHECKING:
    import networkx as nx
    from torch import nn

FEATURES: tuple[str, ...] = ("op_usage", "op_counts", "adjacency")
"""Clustering features every space provides (:meth:`Space.features`): the share and the count of each
kernel type of the computational graph, and an encoding of the architecture (lossless where the space
has a closed form)."""


def distinct_sorted(values: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (a sort and one comparison: much faster than ``np.unique`` on
    millions of integers)."""
    ordered = np.sort(np.asarray(values))
    return ordered[np.concatenate([[True], ordered[1:] != ordered[:-1]])] if len(ordered) else ordered


def mixed_radix_neighbours(index: int, radices: Sequence[int]) -> np.ndarray:
    """The numbers that differ from ``index`` in exactly one digit of the mixed radix ``radices`` (first digit
    most significant), sorted."""
    places = np.cumprod((1, *radices[:0:-1]))[::-1].astype(np.int64)
    out = []
    for place, radix in zip(places, radices, strict=True):
        digit = (index // int(place)) % radix
        options = np.arange(radix, dtype=np.int64)
        out.append(index + (options[options != digit] - digit) * place)
    return np.sort(np.concatenate(out)) if out else np.zeros(0, dtype=np.int64)


class NoParams(BaseModel):
    """The parameters of a space that has none."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Networks(Protocol):
    """How to build the untrained networks of one architecture: ``build(kind, num_classes)`` for each
    kind the space has (``Space.network_kinds``; a statistic names the kind it runs on)."""

    def build(self, kind: str, num_classes: int) -> nn.Module: ...


class Space(ABC):
    """A search space, enumerated by index. Subclasses are immutable value objects."""

    name: str
    """The name a config gives the space (``space.name``)."""
    id_column: str
    """The column holding each architecture's identifier in the store and in a benchmark table."""
    network_kinds: tuple[str, ...] = ("standard", "small", "thin")
    """The networks :meth:`networks` builds (a statistic names the one it runs on, ``Statistic.network``)."""
    network_methods: ClassVar[tuple[str, ...]] = ()
    """The methods beyond ``forward`` that its networks define (of :data:`cbred_ray.catalog.NETWORK_METHODS`:
    ``pre_pool``, ``cell_features``); a statistic that calls one they lack is refused before a run, and
    ``check_space`` holds the networks to what is declared."""
    Params: ClassVar[type[BaseModel]] = NoParams
    """The model of the space's own parameters (pydantic, strict: unknown keys are refused)."""
    benchmark_table: ClassVar[str | None] = None
    """The benchmark table shipped for this space (identifier and accuracy columns), if any: a path, or
    ``package:relative/path`` inside an installed package (read only by ``cbred_ray.evaluate``)."""
    cost_width: ClassVar[int | None] = None
    """The width of the network (``networks(index, cost_width)``) that :meth:`costs` describes; None: the
    default width (``check_space`` compares the two)."""
    graph_of_network: ClassVar[bool | None] = False
    """What :meth:`computational_graph` describes, for ``check_space``'s comparison with the traced
    network: True, the whole network; False, one cell that the network repeats around a fixed frame;
    None, the networks are not to be traced."""
    traced_features: ClassVar[bool] = False
    """Whether features cost a built (and traced) network each: then only the graphs stage computes them,
    in parallel, and the checks before a run do not."""
    report_budgets: ClassVar[tuple[float, ...]] = ()
    """The parameter budgets ``cbred report`` compares the methods under, beside no budget."""
    edit_distance: bool = False
    """Whether the cell edit distance (``cluster.distance: edit``) is defined on its architectures
    (:meth:`edit_rows` gives them)."""

    # -- parameters -----------------------------------------------------------------------------
    @classmethod
    def validate_params(cls, params: dict, name: str | None = None) -> BaseModel:
        """``params`` checked by :attr:`Params`; BadInput names the first bad key and value."""
        label = name or getattr(cls, "name", cls.__name__)
        if not isinstance(params, dict):
            raise BadInput(f"space {label!r}: parameters must be a mapping, got {params!r}")
        try:
            return cls.Params.model_validate(params)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(parameters)"
            if first["type"] == "extra_forbidden":
                known = ", ".join(cls.Params.model_fields) or "none"
                raise BadInput(f"space {label!r} has no parameter {where!r} (its parameters: {known})") from None
            raise BadInput(f"space {label!r}: bad value for {where!r}: {first.get('input')!r} "
                           f"({first['msg']})") from None

    @classmethod
    def from_params(cls, params: BaseModel) -> Space:
        """The space with these (validated) parameters; by default ``cls(**params)``."""
        return cls(**params.model_dump())

    def params(self) -> dict:
        """The parameters that rebuild this space (:meth:`from_params`), as JSON-able values."""
        return {name: getattr(self, name) for name in self.Params.model_fields}

    # -- size and enumeration -------------------------------------------------------------------
    @property
    @abstractmethod
    def size(self) -> int:
        """Number of architectures."""

    def check_indices(self, indices: np.ndarray) -> np.ndarray:
        """``indices`` as int64; BadInput naming one outside the space."""
        idx = np.asarray(indices, dtype=np.int64).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= self.size):
            bad = idx[(idx < 0) | (idx >= self.size)][0]
            raise BadInput(f"architecture index {int(bad)} outside the {self.name} space [0, {self.size})")
        return idx

    def ranges(self, shard_size: int, size: int | None = None) -> Iterator[tuple[int, int]]:
        """Index ranges [start, stop) covering [0, size or the whole space) in shards of ``shard_size``."""
        if shard_size < 1:
            raise BadInput(f"shard size must be positive, got {shard_size}")
        size = self.size if size is None else size
        for start in range(0, size, shard_size):
            yield start, min(start + shard_size, size)

    def sample(self, count: int, seed: int) -> np.ndarray:
        """``count`` distinct indices drawn uniformly with ``seed``, sorted (the same for the same seed)."""
        if not 1 <= count <= self.size:
            raise BadInput(f"sample size {count} must be between 1 and the space size {self.size}")
        rng = np.random.default_rng(seed)
        if count * 4 >= self.size:
            return np.sort(rng.permutation(self.size)[:count]).astype(np.int64)
        picked = distinct_sorted(rng.integers(0, self.size, size=count, dtype=np.int64))
        while len(picked) < count:  # top up the few draws lost to repeats, in the same seeded stream
            more = rng.integers(0, self.size, size=count - len(picked), dtype=np.int64)
            picked = distinct_sorted(np.concatenate([picked, more]))
        return picked

    # -- identifiers ----------------------------------------------------------------------------
    @abstractmethod
    def parse_id(self, text: str) -> int:
        """The index of an architecture given by its identifier; BadInput names what is wrong."""

    def parse_ids(self, texts: Sequence[str]) -> np.ndarray:
        return np.asarray([self.parse_id(t) for t in texts], dtype=np.int64)

    def member_mask(self, ids: Sequence[str]) -> np.ndarray:
        """True for each identifier of an architecture of this space (False: well formed, but of an
        architecture outside it); BadInput names a malformed one."""
        for text in ids:
            self.parse_id(text)
        return np.ones(len(ids), dtype=bool)

    @abstractmethod
    def format_ids(self, indices: np.ndarray) -> list[str]:
        """The identifier of each index (inverse of :meth:`parse_id`)."""

    # -- equivalence, features, graph, cost -----------------------------------------------------
    @abstractmethod
    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        """The canonical index (deduplication key) of each index; a canonical index is its own."""

    def graph_keys(self, indices: np.ndarray) -> np.ndarray | None:
        """A deduplication key per architecture (int64) for a space whose canonical form is not known in
        closed form (a traced graph's hash): the run then computes once per key, on the architecture of
        the run with the smallest index among those sharing it. None (the default): the canonical index
        is the key."""
        return None

    @abstractmethod
    def features(self, canonical: np.ndarray, name: str) -> np.ndarray:
        """One of :data:`FEATURES` for canonical indices, float64 rows of a fixed width."""

    @property
    @abstractmethod
    def kernel_types(self) -> tuple[str, ...]:
        """The kernel types of the computational graph, in the order of ``op_usage``/``op_counts``."""

    @abstractmethod
    def computational_graph(self, index: int) -> nx.DiGraph:
        """The bipartite memory/kernel graph of one architecture (``cbred_ray.graphs``)."""

    @abstractmethod
    def costs(self, indices: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, MACs per 32×32 image) of each architecture's network as the benchmark builds it
        from its identifier."""

    def describe(self) -> dict:
        """What the manifest records of the space: its name, parameters and size."""
        return {"name": self.name, **self.Params.model_validate(self.params()).model_dump(mode="json"),
                "size": self.size}

    # -- networks -------------------------------------------------------------------------------
    def networks(self, canonical_index: int, width: int | None = None) -> Networks:
        """How to build the untrained networks of one (canonical) architecture; ``width`` overrides the
        width of its standard network (None: the space's default)."""
        raise BadInput(f"space {self.name!r} builds no networks: its statistics must be precomputed")

    def cost_network(self, index: int, num_classes: int) -> nn.Module:
        """The network :meth:`costs` describes: by default the standard network at :attr:`cost_width`. A space
        whose statistics run on a network of another shape than the benchmark's (another depth) says here
        which network its costs are of."""
        return self.networks(index, self.cost_width).build("standard", num_classes)

    # -- neighbourhood ---------------------------------------------------------------------------
    @property
    def radices(self) -> tuple[int, ...] | None:
        """When the index is a mixed-radix number of the space's choices (the first most significant; one
        digit per edge's operation, per layer's block, ...): the number of options of each choice. Then the
        default :meth:`neighbours` changes one digit. None: the space defines :meth:`neighbours` itself."""
        return None

    def neighbours(self, index: int) -> np.ndarray:
        """The indices of the architectures one step from ``index`` (one operation or one edge changed), sorted,
        distinct, without ``index`` itself: what local search and evolution move along. By default, one digit of
        :attr:`radices` changed."""
        index = int(self.check_indices([index])[0])
        if self.radices is None:
            raise BadInput(f"space {self.name!r} defines no neighbourhood: give it `radices` (its index as a "
                           f"mixed-radix number of its choices) or a `neighbours(index)` method")
        return mixed_radix_neighbours(index, self.radices)

    def mutate(self, index: int, rng: np.random.Generator) -> int:
        """One neighbour of ``index`` drawn uniformly with ``rng`` (evolution's mutation); an architecture without
        neighbours (NB101's input -> output cell, say) mutates to one drawn uniformly from the space."""
        found = self.neighbours(index)
        if not len(found):
            return int(rng.integers(self.size))
        return int(found[rng.integers(len(found))])

    def edit_rows(self, canonical: np.ndarray) -> np.ndarray:
        """The rows the cell edit distance compares (:attr:`edit_distance`)."""
        raise BadInput(f"the cell edit distance is not defined on space {self.name!r}")

    def check_feature(self, name: str) -> None:
        if name not in FEATURES:
            raise BadInput(f"unknown feature {name!r} (known: {', '.join(FEATURES)})")
