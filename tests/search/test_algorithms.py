"""Random search, regularised evolution and local search: seeded, never training one network twice, staying in
their (reduced) space, and doing what each algorithm promises on objectives whose answer is known."""
from __future__ import annotations

import numpy as np
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.search import (
    Evolution,
    LocalSearch,
    RandomSearch,
    ReducedSpace,
    Trajectory,
    evolution,
    local_search,
    make_search,
    random_search,
    run_search,
    table_objective,
    warm_start,
)
from cbred_ray.spaces.cell import nb201

SPACE = nb201.SPACE
TARGET = SPACE.cells_of(SPACE.sample(1, seed=11))[0]


def closeness(arch: str) -> float:
    """Minus the number of edges whose operation differs from TARGET's: one peak, and every other cell has a
    neighbour one step closer."""
    return -float((SPACE.cells_of([SPACE.parse_id(arch)])[0] != TARGET).sum())


ALGORITHMS = [random_search, evolution, local_search]


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda f: f.__name__)
def test_a_search_is_seeded_and_trains_each_network_once(algorithm):
    first = algorithm(SPACE, closeness, budget=120, seed=3)
    again = algorithm(SPACE, closeness, budget=120, seed=3)
    other = algorithm(SPACE, closeness, budget=120, seed=4)
    assert first.archs == again.archs and first.scores == again.scores
    assert first.archs != other.archs
    assert len(first) == 120 and len(set(first.archs)) == 120
    assert first.scores == [closeness(a) for a in first.archs]


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda f: f.__name__)
def test_a_search_in_a_reduced_space_stays_inside_and_stops_when_it_is_all_trained(algorithm):
    members = SPACE.sample(60, seed=2)
    reduced = ReducedSpace(SPACE, members=members)
    trajectory = algorithm(reduced, closeness, budget=500, seed=0)
    assert set(trajectory.archs) <= set(SPACE.format_ids(members))
    # each goes on (random and local search restart, evolution draws anew when its children are all known) until
    # every member is trained
    assert len(trajectory) == len(set(trajectory.archs)) == 60


def test_local_search_climbs_to_the_single_peak_without_restarting():
    trajectory = local_search(SPACE, closeness, budget=1000, seed=0)
    reached = trajectory.queries_to(0.0)
    # from any start, each move is one edge closer: at most 6 moves of at most 24 neighbours each
    assert reached is not None and reached <= 1 + 6 * 24
    assert trajectory.best == (SPACE.format_ids(SPACE.indices_of(TARGET))[0], 0.0)


def test_evolution_finds_the_peak_far_sooner_than_random_search():
    evolved = [evolution(SPACE, closeness, 400, seed=s).queries_to(0.0) or 401 for s in range(5)]
    drawn = [random_search(SPACE, closeness, 400, seed=s).queries_to(0.0) or 401 for s in range(5)]
    assert np.median(evolved) < 200 < np.median(drawn)  # random search finds 1 cell of 15,625 in 400 tries < 3 %


def test_evolution_starts_from_the_given_population_then_mutates_its_members():
    initial = SPACE.format_ids(SPACE.sample(8, seed=1))
    search = Evolution(SPACE, seed=0, population=8, tournament=3, initial=initial)
    trajectory = run_search(search, closeness, 40)
    assert trajectory.archs[:8] == initial
    known = set(initial)
    for arch in trajectory.archs[8:]:  # every child is one edge from a member trained before it
        index = SPACE.parse_id(arch)
        assert any(int(n) in {SPACE.parse_id(k) for k in known} for n in SPACE.neighbours(index))
        known.add(arch)
    assert len(search.population) == 8


def test_evolution_keeps_distinct_networks_and_does_not_stall_in_a_small_space():
    reduced = ReducedSpace(SPACE, members=SPACE.sample(400, seed=5))
    search = Evolution(reduced, seed=0, population=10, tournament=5)
    trajectory = run_search(search, closeness, 300)
    assert len(trajectory) == 300  # without drawing anew it would stop once its winners' neighbourhoods are known
    members = [index for index, _ in search.population]
    assert len(set(members)) == len(members) == 10


def test_the_warm_start_keeps_the_best_of_the_pool_by_the_statistic():
    picked = warm_start(SPACE, lambda archs: [closeness(a) for a in archs], population=5, pool=200, seed=0)
    pool = ReducedSpace(SPACE).sample(200, seed=0)
    assert sorted(closeness(a) for a in picked) == sorted(closeness(a) for a in pool)[-5:]


def test_ask_and_tell_with_several_networks_in_training_at_once():
    search = LocalSearch(SPACE, seed=1)
    start = search.ask()
    assert search.ask() is None  # it waits for the start's score
    search.tell(start, closeness(start))
    neighbourhood = [search.ask() for _ in range(24)]
    assert search.ask() is None and len(set(neighbourhood)) == 24  # the whole neighbourhood out, then it waits
    for arch in neighbourhood:
        search.tell(arch, closeness(arch))
    following = search.ask()
    assert following is not None and following not in neighbourhood + [start]
    rea = Evolution(SPACE, seed=0, population=4, tournament=2)
    out = [rea.ask() for _ in range(4)]
    assert rea.ask() is None  # no member told yet: nothing to mutate
    rea.tell(out[0], 1.0)
    assert rea.ask() not in out
    with pytest.raises(BadInput, match="was not asked"):
        rea.tell(out[0], 1.0)


def test_trajectory_measures():
    trajectory = Trajectory("random", "whole", 0, ["a", "b", "c", "d"], [1.0, 3.0, 2.0, 5.0])
    assert trajectory.best_so_far.tolist() == [1.0, 3.0, 3.0, 5.0]
    assert trajectory.queries_to(3.0) == 2 and trajectory.queries_to(4.0) == 4 and trajectory.queries_to(6.0) is None
    assert trajectory.best_after(3) == 3.0 and trajectory.best_after(100) == 5.0 and trajectory.best == ("d", 5.0)


def test_the_table_objective_and_its_top_shares():
    objective = table_objective(SPACE, "cifar100")
    accuracy = np.sort(objective.accuracy.to_numpy())[::-1]
    assert objective.top(0.01) == accuracy[156] and len(objective.top_ids(0.001)) >= 16
    arch = objective.accuracy.index[0]
    assert objective(arch) == objective.accuracy.iloc[0]
    with pytest.raises(BadInput, match="no accuracy for dataset 'imagenet'"):
        table_objective(SPACE, "imagenet")


@pytest.mark.parametrize(("call", "says"), [
    (lambda: run_search(RandomSearch(SPACE), closeness, 0), "budget"),
    (lambda: run_search(RandomSearch(SPACE), "accuracy", 5), "callable"),
    (lambda: Evolution(SPACE, population=4, tournament=5), "tournament"),
    (lambda: Evolution(SPACE, population=1), "population"),
    (lambda: RandomSearch(SPACE, seed=-1), "seed"),
    (lambda: make_search("bayesian", SPACE), "unknown search algorithm 'bayesian'"),
    (lambda: Evolution(ReducedSpace(SPACE, members=[0, 1, 2]), initial=SPACE.format_ids([5])), "outside"),
], ids=["budget", "objective", "tournament", "population", "seed", "algorithm", "initial"])
def test_bad_search_settings_are_refused(call, says):
    with pytest.raises(BadInput, match=says):
        call()
