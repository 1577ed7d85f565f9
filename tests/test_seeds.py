"""Every seed of a run comes from one SeedSequence of the run's seed, one child per purpose and number."""
import itertools

import pytest

from cbred_ray.seeds import PURPOSES, RunSeeds, derive


def test_a_child_seed_is_a_pure_function_of_the_run_seed_and_its_path():
    assert derive(7, 2, 1) == derive(7, 2, 1)
    assert RunSeeds(7).of("cluster") == RunSeeds(7).of("cluster")
    assert 0 <= derive(2**31 - 1, 5) < 2**32


def test_no_two_uses_of_nearby_runs_share_a_seed():
    # the old schemes added: run seed 0's repeat 1 was run seed 1's repeat 0, and so for halving rounds
    assert RunSeeds(0).stats(2)[1] != RunSeeds(1).stats(1)[0]
    assert derive(0, 1) != derive(1, 0)
    seeds = [RunSeeds(run).of(purpose, number) for run, purpose, number in
             itertools.product(range(4), PURPOSES, range(4))]
    assert len(set(seeds)) == len(seeds)


def test_each_repeat_of_the_statistics_has_its_own_seed():
    seeds = RunSeeds(3).stats(4)
    assert len(set(seeds)) == 4 and seeds[:2] == RunSeeds(3).stats(2)  # a repeat's seed does not depend on how many


def test_unknown_purposes_and_negative_seeds_are_refused():
    with pytest.raises(ValueError, match="unknown seed purpose 'clusters'"):
        RunSeeds(0).of("clusters")
    with pytest.raises(ValueError, match="non-negative"):
        derive(-1)


def test_the_manifest_record_names_every_purpose():
    record = RunSeeds(5).record()
    assert record["seed"] == 5 and set(record["purposes"]) == set(PURPOSES)
    assert record["purposes"]["stats"] == RunSeeds(5).stats(1)[0]
