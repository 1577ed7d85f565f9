"""Search in a space or in the space a reduction kept (``docs/python.md``, "Searching the reduced space").

- :class:`ReducedSpace` (:mod:`cbred_ray.search.space`): a whole space, a run's selection or a run's region, with
  ``ids``, ``sample``, membership, and ``mutate`` / ``neighbours`` that stay inside;
- the algorithms (:mod:`cbred_ray.search.algorithms`): random search, regularised evolution and local search, as
  ask/tell objects and as functions that run one to a budget and return its :class:`Trajectory`;
- objectives for simulation (:mod:`cbred_ray.search.objectives`): a benchmark table's accuracy;
- :class:`SpaceSearcher` (:mod:`cbred_ray.search.tune`): the same algorithms as a Ray Tune searcher (importing it
  loads Ray; nothing else here does).
"""
from __future__ import annotations

from cbred_ray.search.algorithms import (
    ALGORITHMS,
    Evolution,
    LocalSearch,
    RandomSearch,
    Search,
    Trajectory,
    evolution,
    local_search,
    make_search,
    random_search,
    run_search,
    warm_start,
)
from cbred_ray.search.objectives import TableObjective, table_objective
from cbred_ray.search.space import ReducedSpace

__all__ = ["ALGORITHMS", "Evolution", "LocalSearch", "RandomSearch", "ReducedSpace", "Search", "SpaceSearcher",
           "TableObjective", "Trajectory", "evolution", "local_search", "make_search", "random_search", "run_search",
           "table_objective", "warm_start"]


def __getattr__(name: str):
    if name == "SpaceSearcher":
        from cbred_ray.search.tune import SpaceSearcher

        return SpaceSearcher
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
