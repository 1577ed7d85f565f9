"""The Ray Tune searcher: a real Tune experiment on a local Ray, its trials looking accuracy up in NB201's table."""
from __future__ import annotations

import pytest

from cbred_ray.search import ReducedSpace, table_objective
from cbred_ray.spaces.cell import nb201

SPACE = nb201.SPACE


def _tune(tmp_path, searcher, trials, param_space=None):
    from ray import tune

    objective = table_objective(SPACE, "cifar100")

    def train(config):
        return {"accuracy": objective(config["arch"])}

    tuner = tune.Tuner(train, param_space=param_space,
                       tune_config=tune.TuneConfig(search_alg=searcher, metric="accuracy", mode="max",
                                                   num_samples=trials, max_concurrent_trials=2),
                       run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), verbose=0))
    return tuner.fit(), objective


@pytest.mark.parametrize("algorithm", ["rea", "local"])
def test_tune_trains_what_the_algorithm_asks_and_tells_it_the_results(ray_local, tmp_path, algorithm):
    from cbred_ray.search import SpaceSearcher

    if algorithm == "rea":  # the metric given to the searcher
        searcher = SpaceSearcher(SPACE, "rea", seed=0, metric="accuracy", mode="max", population=4, tournament=2)
        results, objective = _tune(tmp_path, searcher, 10)
    else:  # the metric handed over by Tune, with the trial's other hyperparameters
        searcher = SpaceSearcher(SPACE, "local", seed=0)
        results, objective = _tune(tmp_path, searcher, 10, param_space={"learning_rate": 0.1})
        assert all(result.config["learning_rate"] == 0.1 for result in results)
    archs = [result.config["arch"] for result in results]
    assert len(results) == 10 and len(set(archs)) == 10 and not results.errors
    assert all(result.metrics["accuracy"] == objective(result.config["arch"]) for result in results)
    told = {SPACE.format_ids([index])[0]: score for index, score in searcher.search.scores.items()}
    assert told == {arch: objective(arch) for arch in archs}  # every trial's result reached the algorithm
    assert results.get_best_result().metrics["accuracy"] == max(told.values())


def test_tune_stops_when_the_reduced_space_is_all_trained(ray_local, tmp_path):
    from cbred_ray.search import SpaceSearcher

    members = SPACE.sample(6, seed=1)
    searcher = SpaceSearcher(ReducedSpace(SPACE, members=members), "random", seed=0, metric="accuracy", mode="max")
    results, _ = _tune(tmp_path, searcher, 20)
    assert sorted(result.config["arch"] for result in results) == sorted(SPACE.format_ids(members))
