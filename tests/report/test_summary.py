"""The caveats a run states in its last line and in `cbred evaluate`, and evaluate's small table."""
from cbred_ray.report.summary import caveats, evaluation_table, kept_cluster


def _manifest(near_ties=(), k_edge=None):
    return {"stages": {
        "selection": {"cluster": 4, "score": 0.871, "interval": [0.836, 0.901], "near_ties": list(near_ties)},
        "clusters": {"k": 32, "criterion": "silhouette", "k_edge": k_edge,
                     "search": [{"k": k, "eta": None, "value": 0.1} for k in (4, 8, 16, 32)]}}}


def test_a_clear_choice_has_no_caveat():
    assert caveats(_manifest()) == []
    assert kept_cluster(_manifest()["stages"]["selection"]) == "cluster 4 (score 0.871 [0.836, 0.901])"


def test_near_ties_and_a_k_at_the_grids_edge_are_named():
    tie = {"cluster": 3, "size": 1291, "score": 0.868, "interval": [0.813, 0.893]}
    notes = caveats(_manifest([tie], "largest"))
    assert len(notes) == 2
    assert "cluster 4" in notes[0] and "3 (0.868 [0.813, 0.893], 1,291 archs)" in notes[0]
    assert "K = 32" in notes[1] and "largest" in notes[1] and "[4, 8, 16, 32]" in notes[1] and "silhouette" in notes[1]


def test_the_evaluation_table_sets_the_selection_beside_the_baselines_and_the_whole_space():
    measured = {"subset_size": 10, "subset_share": 0.1, "subset_mean": 70.0, "space_mean": 60.0, "top1_recall": 0.5,
                "expected_best_random_10": 72.0, "expected_best_random_100": 73.0}
    report = {"space_size": 100, "datasets": {"cifar100": measured},
              "baselines": {"Params-Quantiled": {"cifar100": {**measured, "subset_mean": 71.0}}}}
    lines = evaluation_table(report).splitlines()
    assert lines[0].startswith("cifar100") and [line.split()[0] for line in lines[1:]] == ["selection",
                                                                                           "Params-Quantiled", "whole"]
    assert "70.00" in lines[1] and "71.00" in lines[2]
    assert lines[3].split()[-2:] == ["–", "–"]  # E[best of N] of another size is not set beside the subsets'
