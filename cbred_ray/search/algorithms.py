"""Search algorithms that run in a space or a reduced space: random search, regularised evolution, local search.

    from cbred_ray.search import evolution, table_objective

    objective = table_objective(space, "cifar100")            # a benchmark table, for simulation
    trajectory = evolution(result.reduced_space, objective, budget=300, seed=0)
    trajectory.best_so_far[-1], trajectory.queries_to(objective.top(0.01))

Each algorithm is an ask/tell object (:class:`Search`): :meth:`Search.ask` gives the next architecture to
train, :meth:`Search.tell` its score (higher is better). :func:`run_search` drives one to a budget of trained
networks with an objective (a callable from identifier to score: a table lookup, or the user's own training);
the Ray Tune searcher (:mod:`cbred_ray.search.tune`) drives the same objects from Tune's trials. An
architecture is trained once: one proposed again costs no query (local search reads its known score; evolution
passes it over and draws another child).

- **Random search** draws architectures uniformly without repeats.
- **Regularised evolution** (Real et al., AAAI 2019): a population of ``population`` architectures (drawn
  uniformly, or given: ``initial``, the zero-cost warm-up of Abdelfattah et al., ICLR 2021); each step mutates
  the best of ``tournament`` members drawn from it and the child replaces the oldest member.
- **Local search** (White et al., UAI 2021): from a random architecture, train its whole neighbourhood, move to
  the best neighbour while it improves, and restart from a new random architecture at a local optimum.

Moves (``mutate``, ``neighbours``) are the space's own (one operation or one edge changed), kept inside a
reduced space by :class:`~cbred_ray.search.space.ReducedSpace`. Every algorithm is seeded: the same space, seed
and scores give the same trajectory. Nothing here uses Ray.
"""
from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from cbred_ray.errors import BadInput
from cbred_ray.search.space import ReducedSpace
from cbred_ray.spaces.base import Space

Objective = Callable[[str], float]
"""A score per architecture identifier, higher better: a benchmark table's accuracy, or a training run's."""
MAX_REPEATS = 10_000
"""Proposals of already-trained architectures :meth:`Search.ask` serves from memory before it gives up."""


def as_reduced(space: ReducedSpace | Space) -> ReducedSpace:
    """A reduced space as it is; a whole space as the reduced space that holds all of it."""
    if isinstance(space, ReducedSpace):
        return space
    if isinstance(space, Space):
        return ReducedSpace(space)
    raise BadInput(f"a search runs in a Space or a ReducedSpace, got {type(space).__name__}")


class Search(ABC):
    """An ask/tell search in ``space`` (a :class:`ReducedSpace`, or a whole :class:`Space`), seeded."""

    name: ClassVar[str]

    def __init__(self, space: ReducedSpace | Space, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise BadInput(f"a search's seed must be a non-negative integer, got {seed!r}")
        self.space = as_reduced(space)
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.scores: dict[int, float] = {}  # every architecture trained, with its score
        self.pending: set[int] = set()  # asked, not yet told
        self.exhausted = False  # nothing left to propose
        self._stream = self.space.stream(self.rng)

    # -- the algorithm --------------------------------------------------------------------------
    @abstractmethod
    def propose(self) -> int | None:
        """The next architecture (an index) the algorithm wants scored; None while it waits for results of
        architectures asked and not yet told (or, with :attr:`exhausted` set, when it has nothing left)."""

    @abstractmethod
    def observe(self, index: int, score: float) -> None:
        """The score of an architecture it proposed, trained now."""

    def repeated(self, index: int) -> None:
        """It proposed an architecture trained before (not trained again): by default, told its known score."""
        self.observe(index, self.scores[index])

    def draw(self) -> int | None:
        """The next architecture of the space in random search's order (None, exhausted, when all are drawn)."""
        try:
            return next(self._stream)
        except StopIteration:
            self.exhausted = True
            return None

    # -- the ask/tell interface -----------------------------------------------------------------
    def ask(self) -> str | None:
        """The identifier of the next architecture to train, never one already trained or being trained; None
        while the algorithm waits for a result (or for good: :attr:`exhausted`)."""
        for _ in range(MAX_REPEATS):
            index = self.propose()
            if index is None:
                return None
            if index in self.scores:  # already trained: never again
                self.repeated(index)
            elif index not in self.pending:
                self.pending.add(index)
                return self.space.space.format_ids([index])[0]
        self.exhausted = True  # it proposes nothing new any more (a small reduced space, all trained)
        return None

    def tell(self, arch: str, score: float) -> None:
        """The score of an architecture :meth:`ask` gave (higher is better; NaN counts as the worst)."""
        index = self.space.space.parse_id(arch)
        if index not in self.pending:
            raise BadInput(f"{arch!r} was not asked by this search, or was told already")
        self.pending.discard(index)
        score = float(score)
        self.scores[index] = -np.inf if np.isnan(score) else score
        self.observe(index, self.scores[index])


class RandomSearch(Search):
    """Uniform draws without repeats."""

    name = "random"

    def propose(self) -> int | None:
        return self.draw()

    def observe(self, index: int, score: float) -> None:
        pass


class Evolution(Search):
    """Regularised evolution (aging evolution) with a population and a tournament; ``initial``: identifiers
    that seed the population before any uniform draw (a zero-cost warm-up).

    Its population holds distinct trained networks: a child trained before is not trained again and does not
    join it (the tournament draws again, as NNI's evolution does with ``dedup``). After ``patience`` such
    children in a row (every neighbour of the population's winners trained: a small reduced space explored
    around its local optima), the next children are drawn uniformly, as random search draws, until one is new.
    Without this a population that has explored its neighbourhood proposes only known children and stalls."""

    name = "rea"
    patience = 50

    def __init__(self, space: ReducedSpace | Space, seed: int = 0, population: int = 20, tournament: int = 5,
                 initial: Sequence[str] | None = None) -> None:
        super().__init__(space, seed)
        if not 2 <= population:
            raise BadInput(f"evolution's population must be at least 2, got {population}")
        if not 1 <= tournament <= population:
            raise BadInput(f"evolution's tournament must be between 1 and the population {population}, got {tournament}")
        self.population_size, self.tournament = int(population), int(tournament)
        self._initial = deque(self.space.space.parse_ids(list(initial or []))[:population].tolist())
        if self._initial and not self.space.contains_indices(list(self._initial)).all():
            raise BadInput(f"evolution's initial population has architectures outside the {self.space.label} space")
        self._sampler = random.Random(self.seed)  # the tournaments (a small draw without repeats, often)
        self._seeded = 0  # members of the first population proposed so far
        self._stale = 0  # known children proposed in a row
        self.population: deque[tuple[int, float]] = deque()

    def propose(self) -> int | None:
        if self._seeded < self.population_size:
            self._seeded += 1
            return self._initial.popleft() if self._initial else self.draw()
        if not self.population:
            return None
        if self._stale >= self.patience:
            return self.draw()
        members = self._sampler.sample(range(len(self.population)), min(self.tournament, len(self.population)))
        parent = max((self.population[m] for m in members), key=lambda member: member[1])[0]
        return self.space.mutate_index(parent, self.rng)

    def observe(self, index: int, score: float) -> None:
        self._stale = 0
        self.population.append((index, score))
        if len(self.population) > self.population_size:
            self.population.popleft()

    def repeated(self, index: int) -> None:
        self._stale += 1


class LocalSearch(Search):
    """Best-improvement local search over the space's neighbourhood, restarting at a local optimum."""

    name = "local"

    def __init__(self, space: ReducedSpace | Space, seed: int = 0) -> None:
        super().__init__(space, seed)
        self.current: int | None = None
        self._start: int | None = None
        self._neighbourhood: np.ndarray = np.zeros(0, dtype=np.int64)
        self._queue: list[int] = []

    def propose(self) -> int | None:
        if self._queue:
            return self._queue.pop()
        if self._start is not None or any(int(i) in self.pending for i in self._neighbourhood):
            return None  # waiting for the start or the rest of the neighbourhood
        if self.current is not None and len(self._neighbourhood):
            best = max(self._neighbourhood.tolist(), key=lambda i: self.scores[i])
            if self.scores[best] > self.scores[self.current]:
                self._move(best)
                return self.propose()
        self.current, self._neighbourhood = None, np.zeros(0, dtype=np.int64)  # a local optimum: restart
        self._start = self.draw()
        return self._start

    def observe(self, index: int, score: float) -> None:
        if index == self._start:
            self._start = None
            self._move(index)

    def _move(self, index: int) -> None:
        self.current = index
        self._neighbourhood = self.space.neighbour_indices(index)
        self._queue = self.rng.permutation(self._neighbourhood).tolist()


ALGORITHMS: dict[str, type[Search]] = {cls.name: cls for cls in (RandomSearch, Evolution, LocalSearch)}
"""The algorithms by name."""


def make_search(name: str, space: ReducedSpace | Space, seed: int = 0, **options) -> Search:
    """The algorithm ``name`` (:data:`ALGORITHMS`) in ``space``; BadInput names an unknown one."""
    if name not in ALGORITHMS:
        raise BadInput(f"unknown search algorithm {name!r} (known: {', '.join(ALGORITHMS)})")
    return ALGORITHMS[name](space, seed, **options)


# -- driving a search to a budget ----------------------------------------------------------------
@dataclass
class Trajectory:
    """The architectures a search trained, in order, and their scores."""

    algorithm: str
    space: str
    seed: int
    archs: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.archs)

    @property
    def best_so_far(self) -> np.ndarray:
        """The best score after each query."""
        return np.maximum.accumulate(np.asarray(self.scores, dtype=np.float64)) if self.scores else np.zeros(0)

    @property
    def best(self) -> tuple[str, float]:
        """The best architecture trained and its score."""
        if not self.scores:
            raise BadInput("the search trained nothing")
        k = int(np.argmax(self.scores))
        return self.archs[k], self.scores[k]

    def queries_to(self, threshold: float) -> int | None:
        """The number of networks trained when the first with a score of at least ``threshold`` was found; None
        when none was."""
        hits = np.flatnonzero(np.asarray(self.scores) >= threshold)
        return int(hits[0]) + 1 if len(hits) else None

    def best_after(self, queries: int) -> float:
        """The best score among the first ``queries`` networks (all of them if it trained fewer)."""
        if not self.scores:
            raise BadInput("the search trained nothing")
        return float(self.best_so_far[min(queries, len(self.scores)) - 1])


def run_search(search: Search, objective: Objective, budget: int) -> Trajectory:
    """Train what ``search`` asks, one network at a time, until ``budget`` networks are trained or it has nothing
    left to propose (a reduced space smaller than the budget)."""
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise BadInput(f"a search's budget (networks to train) must be a positive integer, got {budget!r}")
    if not callable(objective):
        raise BadInput(f"the objective must be a callable from an architecture's identifier to a score, got "
                       f"{type(objective).__name__}")
    trajectory = Trajectory(search.name, search.space.label, search.seed)
    while len(trajectory) < budget:
        arch = search.ask()
        if arch is None:  # one network at a time: nothing is pending, so it has nothing left
            break
        score = float(objective(arch))
        search.tell(arch, score)
        trajectory.archs.append(arch)
        trajectory.scores.append(score)
    return trajectory


def random_search(space: ReducedSpace | Space, objective: Objective, budget: int, seed: int = 0) -> Trajectory:
    """Random search in ``space`` for ``budget`` trained networks."""
    return run_search(RandomSearch(space, seed), objective, budget)


def evolution(space: ReducedSpace | Space, objective: Objective, budget: int, seed: int = 0, population: int = 20,
              tournament: int = 5, initial: Sequence[str] | None = None) -> Trajectory:
    """Regularised evolution in ``space`` for ``budget`` trained networks (see :class:`Evolution`)."""
    return run_search(Evolution(space, seed, population, tournament, initial), objective, budget)


def local_search(space: ReducedSpace | Space, objective: Objective, budget: int, seed: int = 0) -> Trajectory:
    """Local search in ``space`` for ``budget`` trained networks."""
    return run_search(LocalSearch(space, seed), objective, budget)


def warm_start(space: ReducedSpace | Space, statistic: Callable[[list[str]], Sequence[float]], population: int,
               pool: int, seed: int = 0) -> list[str]:
    """The zero-cost warm-up of Abdelfattah et al. (2021): the ``population`` architectures of a seeded uniform
    sample of ``pool`` that a training-free ``statistic`` (identifiers -> scores, higher better) ranks best, as
    :class:`Evolution`'s ``initial``. The statistic is computed on the pool only; nothing is trained."""
    reduced = as_reduced(space)
    if not 1 <= population <= pool:
        raise BadInput(f"the warm-up keeps {population} of a pool of {pool}: need 1 <= population <= pool")
    archs = reduced.sample(pool, seed)
    scores = np.asarray(statistic(archs), dtype=np.float64)
    if scores.shape != (len(archs),):
        raise BadInput(f"the warm-up statistic gave {scores.shape} scores for {len(archs)} architectures")
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[:population]
    return [archs[i] for i in order]
