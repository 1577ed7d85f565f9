"""`cbred evaluate`'s small table."""
from cbred_ray.report.summary import evaluation_table


def test_the_evaluation_table_sets_the_selection_beside_the_baselines_and_the_whole_space():
    measured = {"subset_size": 10, "subset_share": 0.1, "subset_mean": 70.0, "space_mean": 60.0, "top1_recall": 0.5,
                "best_kept": 0.0, "top01_kept": 0, "top01_size": 1, "expected_best_random_10": 72.0, "expected_best_random_100": 73.0}
    report = {"space_size": 100, "datasets": {"cifar100": measured},
              "baselines": {"Params-Quantiled": {"cifar100": {**measured, "subset_mean": 71.0}}}}
    lines = evaluation_table(report).splitlines()
    assert lines[0].startswith("cifar100") and [line.split()[0] for line in lines[1:4]] == ["selection",
                                                                                            "Params-Quantiled", "whole"]
    assert lines[4] == "the selection cuts the space's best network and keeps 0 of its 1 best (top 0.1 %)"
    assert "70.00" in lines[1] and "71.00" in lines[2]
    assert lines[3].split()[-2:] == ["–", "–"]  # E[best of N] of another size is not set beside the subsets'
