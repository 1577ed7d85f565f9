"""The metrics: exact expectations against brute force and Monte Carlo, recall, subset reports."""
from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nb201_fixture import ARCHS

from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.evaluate.metrics import evaluate_subset, expected_best_of_random, top_count, top_recall

NB201_TABLE = Path(__file__).resolve().parents[2].parent / "shared" / "nb201" / "nb201_test_accuracy.parquet"

TINY_ARRAYS = [
    np.array([3.0]),
    np.array([1.0, 2.0]),
    np.array([5.0, 1.0, 4.0, 4.0, 2.0]),  # with a tie
    np.array([0.5, 0.5, 0.5, 0.5]),
    np.array([7.2, -1.0, 3.3, 9.9, 0.0, 2.2, 9.9, 4.1]),
]


def brute_force_expected_max(acc: np.ndarray, n: int) -> float:
    subsets = list(itertools.combinations(range(acc.size), n))
    return float(np.mean([acc[list(s)].max() for s in subsets]))


@pytest.mark.parametrize("acc", TINY_ARRAYS, ids=lambda a: f"M{a.size}")
def test_expected_best_matches_enumeration_of_all_subsets(acc: np.ndarray) -> None:
    for n in range(1, acc.size + 1):
        assert expected_best_of_random(acc, n) == pytest.approx(brute_force_expected_max(acc, n), rel=1e-12)


def test_expected_best_matches_monte_carlo() -> None:
    rng = np.random.default_rng(0)
    acc = rng.normal(60.0, 8.0, size=300)
    n, trials = 10, 20_000
    maxima = np.array([rng.choice(acc, size=n, replace=False).max() for _ in range(trials)])
    standard_error = maxima.std(ddof=1) / math.sqrt(trials)
    assert abs(expected_best_of_random(acc, n) - maxima.mean()) < 4 * standard_error


def test_expected_best_is_stable_on_a_space_sized_array() -> None:
    acc = np.random.default_rng(1).uniform(0.0, 75.0, size=15_625)
    n, ordered = 100, np.sort(acc)
    total = math.comb(acc.size, n)
    exact = sum(float(v) * (math.comb(i - 1, n - 1) / total) for i, v in enumerate(ordered, start=1) if i >= n)
    assert expected_best_of_random(acc, n) == pytest.approx(exact, rel=1e-10)


def test_expected_best_edges() -> None:
    acc = np.array([1.0, 4.0, 2.0])
    assert expected_best_of_random(acc, 1) == pytest.approx(acc.mean())
    assert expected_best_of_random(acc, 3) == 4.0
    assert expected_best_of_random(acc, 50) == 4.0
    for n in (0, -3, 2.5, True):
        with pytest.raises(BadInput, match="positive integer"):
            expected_best_of_random(acc, n)
    with pytest.raises(BadInput, match="non-empty"):
        expected_best_of_random(np.array([]), 1)


def test_top_count_is_ceiling_of_fraction() -> None:
    assert top_count(15_625, 0.01) == 157
    assert top_count(100, 0.07) == 7  # 0.07 * 100 is 7.000000000000001 in floating point
    assert top_count(10, 0.01) == 1
    with pytest.raises(BadInput, match="top fraction"):
        top_count(10, 0.0)


def test_top_recall_counts_the_kept_share_of_the_top() -> None:
    acc = np.arange(10, dtype=float)  # top 30 % = values 9, 8, 7
    keep = np.zeros(10, dtype=bool)
    keep[[9, 7, 0]] = True
    assert top_recall(acc, keep, q=0.3) == pytest.approx(2 / 3)
    assert top_recall(acc, np.ones(10, dtype=bool), q=0.3) == 1.0
    assert top_recall(acc, np.zeros(10, dtype=bool), q=0.3) == 0.0


def test_top_recall_breaks_ties_by_position() -> None:
    acc = np.array([5.0, 9.0, 9.0, 9.0, 1.0])  # top 2 of three tied 9s: positions 1 and 2
    first_two = np.array([False, True, True, False, False])
    last = np.array([False, False, False, True, False])
    assert top_recall(acc, first_two, q=0.4) == 1.0
    assert top_recall(acc, last, q=0.4) == 0.0


def test_top_recall_rejects_a_bad_mask() -> None:
    with pytest.raises(BadInput, match="boolean mask"):
        top_recall(np.ones(3), np.array([1, 0, 1]))
    with pytest.raises(BadInput, match="boolean mask"):
        top_recall(np.ones(3), np.ones(2, dtype=bool))


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "arch_str": list(ARCHS),
            "cifar10_test_acc": [90.0, 10.0, 85.0, 70.0, 88.0],
            "cifar100_test_acc": [70.0, 1.0, 60.0, 40.0, 65.0],
        }
    )


def test_evaluate_subset_reports_every_dataset() -> None:
    table = _table()
    selected = [table.arch_str[2], table.arch_str[0], table.arch_str[2]]  # a repeat counts once
    report = evaluate_subset(selected, table, space_size=20)
    json.dumps(report)
    assert report["n_selected"] == 2
    assert set(report["datasets"]) == {"cifar10", "cifar100"}
    c100 = report["datasets"]["cifar100"]
    assert c100["subset_size"] == 2
    assert c100["subset_share"] == pytest.approx(2 / 20)
    assert c100["subset_mean"] == pytest.approx(65.0)
    assert c100["space_mean"] == pytest.approx(47.2)
    assert c100["subset_median"] == pytest.approx(65.0)
    assert c100["subset_max"] == 70.0
    assert c100["top1_recall"] == 1.0  # ceil(0.01 * 5) = 1: the 70.0 row
    assert c100["expected_best_random_10"] == 70.0
    assert c100["space_expected_best_random_100"] == 70.0
    assert report["datasets"]["cifar10"]["top1_recall"] == 1.0


def test_evaluate_subset_share_defaults_to_table_rows() -> None:
    table = _table()
    report = evaluate_subset([table.arch_str[1]], table)
    assert report["datasets"]["cifar10"]["subset_share"] == pytest.approx(1 / 5)
    assert report["datasets"]["cifar10"]["top1_recall"] == 0.0


def test_evaluate_subset_bad_inputs() -> None:
    table = _table()
    with pytest.raises(BadInput, match=r"'\|bogus\|'.*2 selected arch\(s\) missing"):
        evaluate_subset([table.arch_str[0], "|bogus|", "|other|"], table)
    with pytest.raises(BadInput, match="empty"):
        evaluate_subset([], table)
    with pytest.raises(BadInput, match="space size 3"):
        evaluate_subset([table.arch_str[0]], table, space_size=3)
    with pytest.raises(BadInput, match="is duplicated"):
        evaluate_subset([table.arch_str[0]], pd.concat([table, table.iloc[:1]]))


@pytest.fixture(scope="module")
def nb201_table() -> pd.DataFrame:
    if not NB201_TABLE.is_file():
        pytest.skip(f"{NB201_TABLE} is absent")
    return load_benchmark(NB201_TABLE)


def test_whole_nb201_space_as_subset(nb201_table: pd.DataFrame) -> None:
    report = evaluate_subset(nb201_table.arch_str.tolist(), nb201_table, space_size=15_625)
    assert report["n_selected"] == len(nb201_table) == 15_625
    for dataset, column in (("cifar10", "cifar10_test_acc"), ("cifar100", "cifar100_test_acc")):
        stats = report["datasets"][dataset]
        assert stats["subset_share"] == 1.0
        assert stats["subset_mean"] == pytest.approx(stats["space_mean"], rel=1e-12)
        assert stats["space_mean"] == pytest.approx(nb201_table[column].mean(), rel=1e-12)
        assert stats["subset_max"] == stats["space_max"] == nb201_table[column].max()
        assert stats["top1_recall"] == 1.0
        for n in (10, 100):
            assert stats[f"expected_best_random_{n}"] == pytest.approx(stats[f"space_expected_best_random_{n}"])


def test_nb201_top_subset_keeps_the_top_and_beats_random(nb201_table: pd.DataFrame) -> None:
    best = nb201_table.nlargest(200, "cifar100_test_acc").arch_str.tolist()
    stats = evaluate_subset(best, nb201_table)["datasets"]["cifar100"]
    assert stats["top1_recall"] == 1.0  # 200 >= ceil(0.01 * 15625) = 157
    assert stats["best_kept"] == 1.0 and stats["top01_kept"] == stats["top01_size"] == 16  # ceil(0.001 * 15625)
    without_best = evaluate_subset(best[1:], nb201_table)["datasets"]["cifar100"]
    assert without_best["best_kept"] == 0.0 and without_best["top01_kept"] == 15
    assert stats["subset_mean"] > stats["space_mean"]
    assert stats["expected_best_random_10"] > stats["space_expected_best_random_10"]
    assert stats["space_expected_best_random_10"] < stats["space_expected_best_random_100"] < stats["space_max"]


def test_report_does_not_depend_on_row_order(nb201_table: pd.DataFrame) -> None:
    selected = nb201_table.arch_str.iloc[::7].tolist()
    shuffled = nb201_table.sample(frac=1.0, random_state=3)
    assert evaluate_subset(selected, shuffled) == evaluate_subset(selected, nb201_table)


def test_free_baselines_are_the_largest_networks_by_each_cost():
    from cbred_ray.evaluate.metrics import free_baselines

    costs = pd.DataFrame({"params": [5.0, 9.0, 9.0, 1.0], "macs": [4.0, 1.0, 2.0, 3.0]}, index=[10, 11, 12, 13])
    chosen = free_baselines(costs, 2)
    assert chosen == {"Params-Quantiled": [11, 12], "MACs-Quantiled": [10, 13]}


def test_a_region_is_measured_by_the_labelled_architectures_inside_it():
    from cbred_ray.evaluate.metrics import evaluate_region

    table = pd.DataFrame({"arch_str": [f"a{i}" for i in range(200)],
                          "cifar10_test_acc": np.r_[np.full(100, 90.0), np.full(100, 94.0)]})
    top = np.r_[np.zeros(100, bool), np.ones(100, bool)]
    measured = evaluate_region(top, table, seed=1, bootstrap=300)["datasets"]["cifar10"]
    assert (measured["inside"], measured["mean_inside"], measured["mean_all"]) == (100, 94.0, 92.0)
    assert measured["difference"] == 2.0 and measured["difference_interval"][0] > 1.0
    everyone = evaluate_region(np.ones(200, bool), table, bootstrap=100)["datasets"]["cifar10"]
    assert everyone["difference"] == 0.0 and everyone["difference_interval"] == [0.0, 0.0]
    nobody = evaluate_region(np.zeros(200, bool), table)["datasets"]["cifar10"]
    assert nobody["inside"] == 0 and nobody["mean_inside"] is None and nobody["mean_all"] == 92.0
