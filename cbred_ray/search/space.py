"""The space a search runs in: a whole space, or the part of it a reduction kept.

    import cbred_ray

    reduced = cbred_ray.open_store("stores/quick").reduced_space   # or cbred_ray.reduce(...).reduced_space
    reduced.sample(5, seed=0)              # five identifiers of the reduced space
    "|nor_conv_3x3~0|+|...|" in reduced    # membership
    reduced.mutate(arch, rng), reduced.neighbours(arch)   # moves that stay inside

A reduced space is one of three kinds, with one interface:

- the **whole** space (``ReducedSpace(space)``): every architecture belongs; a search in it is the baseline;
- a **listed** one (``ReducedSpace(space, members=indices)``, or :meth:`ReducedSpace.from_ids`): the selection
  of a run that listed its space, or any subset (a baseline's, say);
- a **region** (``ReducedSpace(space, region=region)``): the rule of a run on a sample of its space
  (:mod:`cbred_ray.select.region`), for spaces too large to list.

A finished run gives its own (``ReductionResult.reduced_space``: the region of a run on a sample of its space,
the selection of one that listed it).

The moves come from the space (:meth:`cbred_ray.spaces.base.Space.neighbours`: one operation or one edge
changed): a reduced space keeps the neighbours that belong. An architecture none of whose neighbours
belongs (a member cut off from the rest) mutates to a member drawn uniformly, so that evolution never
leaves the reduced space and never stalls. Everything here is a pure function of the space and the
members (no Ray).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from cbred_ray.errors import BadInput
from cbred_ray.select.region import Region
from cbred_ray.spaces.base import Space

PERMUTED = 50_000_000
"""Largest whole space drawn from as a permutation (exactly, without repeats); larger ones by repeated draws."""
_CACHED_NEIGHBOURHOODS = 200_000


class ReducedSpace:
    """A whole space, a listed subset of it, or a region (see the module docstring)."""

    def __init__(self, space: Space, members: Iterable[int] | np.ndarray | None = None,
                 region: Region | None = None, label: str | None = None) -> None:
        if not isinstance(space, Space):
            raise BadInput(f"a reduced space needs a cbred_ray Space, got {type(space).__name__}")
        if members is not None and region is not None:
            raise BadInput("a reduced space is either listed (members) or a region, not both")
        self.space = space
        self.region = region
        if members is not None:
            members = np.unique(space.check_indices(members if isinstance(members, np.ndarray) else list(members)))
        self.members = members
        if self.members is not None and not len(self.members):
            raise BadInput("a reduced space needs at least one architecture")
        self.label = label or ("whole" if self.whole else "region" if region is not None else "listed")
        self._neighbourhoods: dict[int, np.ndarray] = {}

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_ids(cls, space: Space, ids: Iterable[str], label: str = "listed") -> ReducedSpace:
        """The listed reduced space of these identifiers (a baseline's subset, a shortlist)."""
        return cls(space, members=space.parse_ids(list(ids)), label=label)

    # -- what it holds --------------------------------------------------------------------------
    @property
    def whole(self) -> bool:
        return self.members is None and self.region is None

    @property
    def listed(self) -> bool:
        """Whether its architectures can be listed: a listed subset, or a whole space small enough."""
        return self.members is not None or (self.whole and self.space.size <= PERMUTED)

    def __len__(self) -> int:
        if self.members is not None:
            return len(self.members)
        if self.whole:
            return self.space.size
        raise BadInput("a region's size is estimated, not counted: see ReductionResult.estimated_size()")

    def indices(self) -> np.ndarray:
        """Every architecture's index, sorted (a listed or small whole space)."""
        if self.members is not None:
            return self.members
        if self.listed:
            return np.arange(self.space.size, dtype=np.int64)
        raise BadInput(f"the {self.label} space of {self.space.name!r} is a rule over "
                       f"{self.space.size:,} architectures, too many to list: sample it")

    def ids(self) -> list[str]:
        """Every architecture's identifier (a listed or small whole space)."""
        return self.space.format_ids(self.indices())

    def contains_indices(self, indices: np.ndarray) -> np.ndarray:
        indices = self.space.check_indices(indices)
        if self.members is not None:
            return np.isin(indices, self.members)
        if self.region is not None:
            return self.region.contains(self.space, indices)
        return np.ones(len(indices), dtype=bool)

    def contains(self, ids: Iterable[str]) -> np.ndarray:
        """For each identifier, whether its architecture belongs (BadInput for a malformed one)."""
        return self.contains_indices(self.space.parse_ids(list(ids)))

    def __contains__(self, arch: object) -> bool:
        if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
            return bool(0 <= arch < self.space.size and self.contains_indices([arch])[0])
        return bool(self.contains([arch])[0])

    # -- drawing --------------------------------------------------------------------------------
    def sample(self, n: int, seed: int = 0) -> list[str]:
        """``n`` distinct identifiers drawn uniformly with ``seed`` (each checked to belong)."""
        return self.space.format_ids(self.sample_indices(n, seed)[0])

    def sample_indices(self, n: int, seed: int = 0) -> tuple[np.ndarray, int]:
        """(indices, candidates examined): :meth:`sample`'s architectures, and how many candidates of the whole
        space were examined to find them (``n`` unless a region is drawn by rejection)."""
        if n < 1:
            raise BadInput(f"the number of architectures to draw must be positive, got {n}")
        if self.region is not None:
            return self.region.sample(self.space, n, seed)
        if self.members is not None:
            if n > len(self.members):
                raise BadInput(f"the {self.label} space holds {len(self.members)} architectures: cannot draw {n}")
            return np.random.default_rng(seed).choice(self.members, size=n, replace=False), n
        return self.space.sample(n, seed), n

    def stream(self, rng: np.random.Generator) -> Draws:
        """Indices drawn uniformly with ``rng``, each once while the space is listed (random search's order);
        a region or a huge space may repeat one, which a search skips. Picklable (Ray Tune saves its searcher)."""
        return Draws(self, rng)

    # -- moves ----------------------------------------------------------------------------------
    def neighbour_indices(self, index: int) -> np.ndarray:
        """The space's neighbours of ``index`` (one operation or one edge changed) that belong, sorted."""
        index = int(index)
        found = self._neighbourhoods.get(index)
        if found is None:
            found = self.space.neighbours(index)
            if not self.whole and len(found):
                found = found[self.contains_indices(found)]
            if len(self._neighbourhoods) >= _CACHED_NEIGHBOURHOODS:
                self._neighbourhoods.clear()
            self._neighbourhoods[index] = found
        return found

    def neighbours(self, arch: str) -> list[str]:
        """The identifiers of the neighbours of ``arch`` that belong."""
        return self.space.format_ids(self.neighbour_indices(self.space.parse_id(arch)))

    def mutate_index(self, index: int, rng: np.random.Generator) -> int:
        """One neighbour of ``index`` that belongs, drawn uniformly (the space's own mutation for a whole space);
        a member drawn uniformly when none of its neighbours belongs."""
        if self.whole:
            return self.space.mutate(int(index), rng)
        found = self.neighbour_indices(index)
        if len(found):
            return int(found[rng.integers(len(found))])
        return int(self.sample_indices(1, int(rng.integers(2**63)))[0][0])

    def mutate(self, arch: str, rng: np.random.Generator) -> str:
        """A mutation of ``arch`` that stays inside (see :meth:`mutate_index`)."""
        return self.space.format_ids([self.mutate_index(self.space.parse_id(arch), rng)])[0]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_neighbourhoods": {}}  # the cache is not worth saving

    def __repr__(self) -> str:
        held = f"{len(self):,} architectures" if self.members is not None or self.whole else "a region"
        return f"ReducedSpace({self.label}: {held} of {self.space.name!r})"


class Draws(Iterator[int]):
    """:meth:`ReducedSpace.stream`: a listed space in one seeded permutation; otherwise rounds of seeded draws."""

    def __init__(self, space: ReducedSpace, rng: np.random.Generator) -> None:
        self.space, self.rng = space, rng
        self.order = rng.permutation(space.indices()) if space.listed else np.zeros(0, dtype=np.int64)
        self.position = 0

    def __next__(self) -> int:
        if self.position == len(self.order):
            if self.space.listed:
                raise StopIteration
            drawn, _ = self.space.sample_indices(1024, int(self.rng.integers(2**63)))
            self.order, self.position = self.rng.permutation(drawn), 0
        self.position += 1
        return int(self.order[self.position - 1])
