"""`cbred report`: the comparison of the ways of choosing, measured only after choosing."""
import json

import numpy as np
import pandas as pd
import pytest

from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.report.report import write_report
from cbred_ray.select.methods import METHODS

BUDGETS = (None, 300_000)


@pytest.fixture(scope="module")
def reports(precomputed_store, nb201_table, tmp_path_factory):
    """The report over the real table and over a table whose accuracies are shuffled."""
    store, _, _ = precomputed_store
    folder = tmp_path_factory.mktemp("report")
    table = load_benchmark(nb201_table)
    rng = np.random.default_rng(0)
    for column in [c for c in table.columns if c.endswith("_acc")]:
        table[column] = rng.permutation(table[column].to_numpy())
    shuffled = folder / "shuffled.parquet"
    table.to_parquet(shuffled)
    made = {}
    for name, bench in (("real", nb201_table), ("shuffled", shuffled)):
        path = write_report(store.root, bench, folder / name, seeds=2, budgets=BUDGETS, progress=False)
        made[name] = (path, json.loads((path.parent / "results.json").read_text()))
    return made


def test_the_report_has_every_method_budget_dataset_and_figure(reports):
    path, results = reports["real"]
    text = path.read_text()
    for method in METHODS:
        assert f"| {method} |" in text
    for heading in ("## cifar100", "## cifar10", "### constraint: none", "### constraint: ≤300K params"):
        assert heading in text
    for figure in ("methods.png", "op_usage.png", "tau_by_min_accuracy.png", "clusters.png"):
        assert (path.parent / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"]({figure})" in text
    rows = pd.DataFrame(results["rows"])
    assert set(rows["seed"]) == {2, 3} and set(rows["method"]) >= set(METHODS)


def test_quantile_rules_keep_as_many_as_q_plus_c_and_whole_space_is_the_budgeted_space(reports):
    rows = pd.DataFrame(reports["real"][1]["rows"])
    for (budget, seed), part in rows[rows["dataset"] == "cifar100"].groupby(["budget", "seed"]):
        size = part.set_index("method")["size"]
        assert size["Quantiled"] == size["MAC-Quantiled"] == size["Random"] == size["C-BRED (Q + C)"]
        assert size["Intrinsic"] == 1
        assert size["C-BRED (C)"] >= size["C-BRED (Q + C)"]
    whole = rows[(rows["method"] == "Whole space") & (rows["dataset"] == "cifar100") & (rows["seed"] == 2)]
    whole = whole.set_index("budget")["size"]
    assert whole["none"] == 15_625 and whole["≤300K params"] < 15_625


def test_shuffled_accuracies_change_the_measures_not_the_choices(reports):
    real, shuffled = reports["real"][1], reports["shuffled"][1]
    assert real["choices"] == shuffled["choices"]
    sizes = [pd.DataFrame(r["rows"])[["budget", "seed", "method", "size"]] for r in (real, shuffled)]
    pd.testing.assert_frame_equal(*sizes)
    means = [pd.DataFrame(r["rows"])["mean"].to_numpy() for r in (real, shuffled)]
    assert not np.allclose(*means)


def test_a_store_without_every_statistic_gets_the_comparison_at_its_budget(ray_local, nb201_table, tmp_path):
    from cbred_ray.config import config_from_dict
    from cbred_ray.pipeline.run import run_reduction

    config = config_from_dict({"stats": {"names": ["logsynflow", "params", "macs"]}, "select": {
        "statistics": ["logsynflow"], "quick": {"enabled": True, "sample_per_cluster": 2}}, "cluster": {"k": 3}})
    manifest = run_reduction(config, str(tmp_path / "quick"), progress=False)
    path = write_report(tmp_path / "quick", nb201_table, tmp_path / "r", seeds=1, progress=False)
    assert path.read_text().startswith("# C-BRED on a statistics budget")
    results = json.loads((tmp_path / "r" / "results.json").read_text())
    assert results["measured_architectures"] == 6 and {r["dataset"] for r in results["rows"]} == {"cifar10",
                                                                                                  "cifar100"}
    sizes = {r["method"]: r["size"] for r in results["rows"] if r["dataset"] == "cifar100"}
    assert sizes["C-BRED (C)"] == sizes["Regressor"] == sizes["Random"] == manifest["rows"]["selection"]


def test_result_files_name_paths_relative_to_the_working_directory(tmp_path):
    from cbred_ray.report.report import portable

    inside = tmp_path / "results" / "stats.parquet"
    value = {"stats": {"precomputed": str(inside), "data": {"source": "/elsewhere/x.npz"}}, "names": ["a"]}
    assert portable(value, base=tmp_path) == {
        "stats": {"precomputed": "results/stats.parquet", "data": {"source": "/elsewhere/x.npz"}}, "names": ["a"]}



def test_other_statistic_sets_get_quantiled_and_q_plus_c_on_the_same_clusters(precomputed_store, nb201_table,
                                                                              tmp_path):
    from cbred_ray.errors import BadInput

    store, manifest, _ = precomputed_store
    own = ",".join(manifest["config"]["select"]["statistics"])
    path = write_report(store.root, nb201_table, tmp_path / "r", seeds=1, budgets=(None,), progress=False,
                        also=[f"same={own}", "ntk=ntk_cond:log_rank"])
    summary = pd.DataFrame(json.loads((path.parent / "results.json").read_text())["summary"])
    rows = summary[summary["dataset"] == "cifar100"].set_index("method")
    for method in ("Quantiled", "C-BRED (Q + C)"):
        # the run's own statistics as another set: the very same subsets
        assert rows.loc[f"{method} · same", "mean"] == pytest.approx(rows.loc[method, "mean"])
        assert rows.loc[f"{method} · ntk", "size"] == rows.loc[method, "size"]
    assert rows.loc["C-BRED (Q + C) · ntk", "mean"] != pytest.approx(rows.loc["C-BRED (Q + C)", "mean"])
    assert "On other statistic sets" in path.read_text() and "C-BRED (Q + C) · ntk" in path.read_text()
    with pytest.raises(BadInput, match="did not compute 'zen'"):
        write_report(store.root, nb201_table, tmp_path / "bad", seeds=1, budgets=(None,), progress=False,
                     also=["z=zen"])
    with pytest.raises(BadInput, match="unknown combination 'max'"):
        write_report(store.root, nb201_table, tmp_path / "bad", seeds=1, budgets=(None,), progress=False,
                     also=["n=ntk_cond:max"])


def test_a_budget_run_ranks_the_chosen_cluster_and_the_sample_by_each_other_set_too():
    from cbred_ray.report.budgeted import BudgetRun, choose_on_budget
    from cbred_ray.report.comparison import SET_MARK

    rng = np.random.default_rng(0)
    index = pd.RangeIndex(40)
    measured_at = np.r_[np.arange(1, 40, 2), [0, 2, 4, 6]]  # as halving does, the chosen cluster (odd) measured most
    measured = pd.DataFrame({"synflow": rng.normal(size=24), "params": rng.normal(size=24)}, index=measured_at)
    sample = pd.DataFrame({"synflow": rng.normal(size=16), "params": rng.normal(size=16)},
                          index=rng.choice(40, size=16, replace=False))
    clusters = pd.Series(np.arange(40) % 2, index=index)
    run = BudgetRun(pd.Series([f"a{i}" for i in index], index=index), clusters,
                    pd.DataFrame({"params": rng.normal(size=40), "macs": rng.normal(size=40)}, index=index),
                    pd.DataFrame(rng.normal(size=(40, 3)), index=index), measured, index[clusters == 1], ("synflow",),
                    "mean", {"cost": (("params",), "mean")})
    subsets = choose_on_budget(run, 0, sample)
    share = len(subsets["C-BRED (Q + C)"])
    inside = measured[clusters.loc[measured.index].to_numpy() == 1]
    assert list(subsets["C-BRED (Q + C)"]) == sorted(inside["synflow"].nlargest(share).index)
    # params is a cost: the other set keeps the cluster's and the sample's smallest
    assert list(subsets[f"C-BRED (Q + C){SET_MARK}cost"]) == sorted(inside["params"].nsmallest(share).index)
    assert list(subsets[f"Quantiled (random sample){SET_MARK}cost"]) == sorted(sample["params"].nsmallest(share).index)
    assert subsets[f"C-BRED (Q + C){SET_MARK}cost"].tolist() != subsets["C-BRED (Q + C)"].tolist()


def test_expected_best_of_n_is_shown_only_beside_subsets_of_the_same_size():
    from cbred_ray.report.report import _table

    rows = pd.DataFrame({"method": ["Whole space", "Intrinsic", "Quantiled", "C-BRED (Q + C)", "small"],
                         "size": [15625.0, 1.0, 2472.0, 2472.0, 50.0], "mean": 70.0, "top1_recall": 0.5,
                         "best_kept": 1.0, "top01_kept": 16, "best_of_10": 72.0, "best_of_100": 73.0, "first_ranked": 71.0})
    rows.loc[4, "size"], rows.loc[3, "size"] = 50.0, 50.0  # two subsets of 50: E[best of 10] compares them
    cells = {line.split(" | ")[0].strip("| "): line.strip("|").split(" | ") for line in _table(rows).splitlines()[2:]}
    assert cells["Whole space"][6:8] == ["–", "–"] and cells["Intrinsic"][6:8] == ["–", "–"]
    assert cells["Quantiled"][6:8] == ["–", "–"]  # alone at its size now
    assert cells["small"][6:8] == ["72.00", "–"]  # 50 networks: a random search of 100 does not fit
