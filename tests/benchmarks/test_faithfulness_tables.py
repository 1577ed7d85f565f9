"""The faithfulness benchmarks' tables: the space's identifier joins, each space's published numbers are the
ones set beside ours, and the run-seed spread reports what the runs measured."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cbred_ray.evaluate.benchmark import builtin_table, load_benchmark
from cbred_ray.spaces import space_of

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import run_seed_spread  # noqa: E402
import zero_cost_faithfulness as zcf  # noqa: E402


@pytest.fixture(scope="module")
def nb101_rows() -> pd.DataFrame:
    table = load_benchmark(builtin_table(space_of("nb101")), space_of("nb101"))
    return table.sample(200, random_state=0).reset_index(drop=True)


def test_nb101_joins_on_hash_and_reads_nb101_published(nb101_rows):
    accuracy = nb101_rows["cifar10_test_acc"].to_numpy()
    stats = pd.DataFrame({"hash": nb101_rows["hash"], "grasp": accuracy, "zico": -accuracy})
    result = zcf.compare(stats, nb101_rows, "cifar10", bootstrap=0, seed=0, space="nb101")
    assert result["n_archs"] == 200
    grasp, zico = result["statistics"]["grasp"], result["statistics"]["zico"]
    assert grasp["spearman"]["value"] == pytest.approx(1.0)
    assert zico["kendall"]["value"] == pytest.approx(-1.0)  # oriented: zico is higher-is-better
    assert grasp["published"]["value"] == zcf.NB101["grasp"]["cifar10"][0]
    assert grasp["published"]["measure"] == "|spearman|" and zico["published"]["measure"] == "kendall"
    assert zico["ours_on_that_measure"] == pytest.approx(-1.0) and not zico["within"]


def test_a_statistic_without_an_nb101_number_has_none(nb101_rows):
    stats = pd.DataFrame({"hash": nb101_rows["hash"], "meco": nb101_rows["cifar10_test_acc"]})
    row = zcf.compare(stats, nb101_rows, "cifar10", bootstrap=0, seed=0, space="nb101")["statistics"]["meco"]
    assert "published" not in row and "meco" in zcf.NB201


def test_run_seed_spread_reports_each_run_and_the_gap(nb101_rows):
    accuracy = nb101_rows["cifar10_test_acc"].to_numpy()
    rng = np.random.default_rng(0)
    runs = [zcf.compare(pd.DataFrame({"hash": nb101_rows["hash"], "grasp": accuracy + rng.normal(0, s, len(accuracy)),
                                      "meco": accuracy}),
                        nb101_rows, "cifar10", 0, 0, "nb101") for s in (0.5, 2.0, 8.0)]
    out = run_seed_spread.spread(runs)
    per_run = [run["statistics"]["grasp"]["ours_on_that_measure"] for run in runs]
    assert out["grasp"]["per_run"] == per_run and len(set(per_run)) == 3  # noisier runs, lower ρ
    assert out["grasp"]["range"] == [min(per_run), max(per_run)]
    published = zcf.NB101["grasp"]["cifar10"][0]
    assert out["grasp"]["gap_of_mean"] == pytest.approx(np.mean(per_run) - published, abs=1e-4)
    assert out["grasp"]["runs_within_tolerance"] == sum(abs(v - published) <= zcf.TOLERANCE for v in per_run)
    assert out["meco"]["measure"] == "spearman" and out["meco"]["sd"] == 0.0 and "published" not in out["meco"]


def test_other_references_are_judged_on_their_own_measure(nb101_rows):
    accuracy = nb101_rows["cifar10_test_acc"].to_numpy()
    noisy = accuracy + np.random.default_rng(0).normal(0, 2.0, len(accuracy))
    stats = pd.DataFrame({"hash": nb101_rows["hash"], "fisher": noisy})
    row = zcf.compare(stats, nb101_rows, "cifar10", bootstrap=0, seed=0, space="nb101")["statistics"]["fisher"]
    others = row["others"]
    assert [(o["value"], o["measure"]) for o in others] == [(v, ref[1]) for v, ref in zcf.OTHERS["nb101"]["fisher"]["cifar10"]]
    for other in others:
        ours = row[other["measure"]]["value"]
        assert other["ours"] == ours and other["difference"] == pytest.approx(ours - other["value"], abs=1e-4)
        assert other["within"] == (abs(ours - other["value"]) <= zcf.TOLERANCE)
    assert row["ours_on_that_measure"] == pytest.approx(abs(row["spearman"]["value"]))  # the primary is |ρ|


def test_rejudge_sets_the_current_tables_beside_unchanged_correlations(nb101_rows, tmp_path):
    accuracy = nb101_rows["cifar10_test_acc"].to_numpy()
    stats = pd.DataFrame({"hash": nb101_rows["hash"], "grasp": accuracy,
                          "meco": accuracy + np.random.default_rng(1).normal(0, 2.0, len(accuracy))})
    fresh = {"space": "nb101", "dataset": "cifar10", "command": "c", "batch": [],
             "provenance": {"date": "d", "git_commit": "g", "machine": {"platform": "p"}},
             **zcf.compare(stats, nb101_rows, "cifar10", bootstrap=20, seed=0, space="nb101")}
    stale = json.loads(json.dumps(fresh))
    for row in stale["statistics"].values():  # as written before the other references existed
        row.pop("others", None)
    stale["statistics"]["grasp"]["published"]["value"] = 0.123
    path = tmp_path / "old.json"
    path.write_text(json.dumps(stale))
    rejudged = zcf.rejudge(path)
    assert rejudged["statistics"] == fresh["statistics"] and "references_set" in rejudged
    assert "[1]" in zcf.markdown(rejudged) and "0.123" not in zcf.markdown(rejudged)
