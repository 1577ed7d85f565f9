"""Ray Tune over a (reduced) space: a Tune searcher driven by one of :mod:`cbred_ray.search.algorithms`.

    from ray import tune
    import cbred_ray
    from cbred_ray.search import SpaceSearcher

    searcher = SpaceSearcher(cbred_ray.open_store("stores/quick").reduced_space, "rea", seed=0, metric="accuracy", mode="max")
    tuner = tune.Tuner(train_fn, tune_config=tune.TuneConfig(search_alg=searcher, num_samples=200))
    tuner.fit()

Each trial's config holds the architecture's identifier under ``key`` (``config["arch"]``); the trainable
builds and trains it (``space.networks`` or the user's own builder) and reports ``metric``. Give the searcher its
``metric`` and ``mode``: Tune hands ``TuneConfig``'s own to a searcher only when the Tuner has a ``param_space``
(the other hyperparameters of the trial, which reach the trainable beside ``arch``). When a trial
completes, its last reported ``metric`` is told to the algorithm (negated for ``mode="min"``; a failed trial
or one that never reported counts as the worst score). The algorithm never asks for an architecture it has
trained or is training; its state is saved with the experiment (``save``/``restore``), so a resumed experiment
(``Tuner.restore``) goes on with the same population or neighbourhood. While it waits for results (a full neighbourhood in local search, say), it suggests
nothing and Tune waits; when it has nothing left (a small reduced space, all trained) the search finishes.
"""
from __future__ import annotations

import math
import pickle

from ray.tune.search import Searcher

from cbred_ray.errors import BadInput
from cbred_ray.search.algorithms import Search, make_search
from cbred_ray.search.space import ReducedSpace
from cbred_ray.spaces.base import Space


class SpaceSearcher(Searcher):
    """A Tune searcher over ``space`` (a :class:`ReducedSpace` or a whole :class:`Space`) with the algorithm
    ``algorithm`` (a name of :data:`~cbred_ray.search.algorithms.ALGORITHMS`, with ``options``, or a
    :class:`~cbred_ray.search.algorithms.Search` object)."""

    def __init__(self, space: ReducedSpace | Space | None = None, algorithm: str | Search = "rea", seed: int = 0,
                 metric: str | None = None, mode: str | None = None, key: str = "arch", **options) -> None:
        if mode not in (None, "max", "min"):
            raise BadInput(f"mode must be 'max' or 'min', got {mode!r}")
        super().__init__(metric=metric, mode=mode)
        if isinstance(algorithm, Search):
            if options or space is not None:
                raise BadInput("give a Search object alone, or a space and an algorithm's name with its options")
            self.search = algorithm
        else:
            if space is None:
                raise BadInput("SpaceSearcher needs the space to search (a ReducedSpace or a Space)")
            self.search = make_search(algorithm, space, seed, **options)
        self.key = key
        self.live: dict[str, str] = {}  # trial id -> architecture

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec) -> bool:
        """Tune hands over ``TuneConfig``'s metric and mode (those given to the searcher win)."""
        if mode not in (None, "max", "min"):
            raise BadInput(f"mode must be 'max' or 'min', got {mode!r}")
        self._metric = self._metric or metric
        self._mode = self._mode or mode
        return True

    def suggest(self, trial_id: str) -> dict | None:
        if self.metric is None:
            raise BadInput("SpaceSearcher has no metric to tell its algorithm: give SpaceSearcher(metric=..., mode=...) "
                           "(Tune hands TuneConfig's metric to a searcher only when the Tuner has a param_space)")
        arch = self.search.ask()
        if arch is None:
            return Searcher.FINISHED if self.search.exhausted and not self.live else None
        self.live[trial_id] = arch
        return {self.key: arch}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        arch = self.live.pop(trial_id, None)
        if arch is None:
            return
        score = -math.inf
        if not error and result is not None and self.metric in result:
            value = float(result[self.metric])
            score = -value if self.mode == "min" else value
        self.search.tell(arch, score)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as out:
            pickle.dump((self.search, self.live, self.key), out)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as given:
            self.search, self.live, self.key = pickle.load(given)
