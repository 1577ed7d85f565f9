"""Tests of the report figures: valid, deterministic PNGs and one-line BadInput errors."""
from __future__ import annotations

from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.report import figures
from cbred_ray.report.figures import (
    cluster_map,
    cluster_op_usage,
    methods_chart,
    project_2d,
    tau_by_min_accuracy,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METHODS = ["Whole space", "Random", "Intrinsic", "Quantiled", "MAC-Quantiled", "C-BRED (C)", "C-BRED (Q + C)"]
CONSTRAINTS = ["none", "≤500K params", "≤300K params"]


def methods_table(with_std: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for dataset in ("cifar10", "cifar100"):
        for constraint in CONSTRAINTS:
            for method in METHODS:
                row = {"dataset": dataset, "constraint": constraint, "method": method,
                       "mean": 60.0 + 10.0 * rng.random()}
                if with_std:
                    row["std"] = np.nan if method == "Whole space" else rng.random()
                rows.append(row)
    return pd.DataFrame(rows)


def usage_table() -> pd.DataFrame:
    ops = ["relu", "conv1x1", "conv3x3", "batchnorm", "avgpool", "identity", "add"]
    shares = np.array([
        [0.2, 0.1, 0.25, 0.3, 0.0, 0.05, 0.1],
        [0.15, 0.15, 0.15, 0.3, 0.1, 0.05, 0.1],
        [0.05, 0.05, 0.05, 0.1, 0.35, 0.3, 0.1],
    ])
    index = ["best (cluster 3, 69.1 %)", "median (cluster 7, 63.0 %)", "worst (cluster 1, 21.4 %)"]
    return pd.DataFrame(shares, index=index, columns=ops)


def tau_curve(with_n: bool = True) -> pd.DataFrame:
    rows = []
    for i, threshold in enumerate([0.0, 20.0, 40.0, 60.0, 65.0, 70.0]):
        for j, statistic in enumerate(["synflow", "jacov", "snip"]):
            tau = np.nan if (threshold == 70.0 and statistic == "snip") else 0.6 - 0.12 * i + 0.05 * j
            row = {"min_accuracy": threshold, "statistic": statistic, "tau": tau}
            if with_n:
                row["n"] = 15625 - 2500 * i
            rows.append(row)
    return pd.DataFrame(rows)


def map_inputs(n: int = 120, k: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    labels = np.arange(n) % k
    xy = rng.normal(size=(n, 2)) + labels[:, None] * 2.0
    weights = rng.integers(1, 50, size=n).astype(float)
    return xy, labels, weights


def assert_png(path: Path) -> None:
    assert path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.shape[0] > 100 and image.shape[1] > 100


# ------------------------------------------------------------ valid PNGs

def test_methods_chart_writes_png(tmp_path):
    out = methods_chart(methods_table(), tmp_path / "sub" / "dir" / "methods.png")
    assert isinstance(out, Path) and out == tmp_path / "sub" / "dir" / "methods.png"
    assert_png(out)


def test_methods_chart_without_std_and_with_str_path(tmp_path):
    out = methods_chart(methods_table(with_std=False).iloc[::2], str(tmp_path / "methods.png"), title="t")
    assert_png(out)


def test_cluster_op_usage_writes_png(tmp_path):
    assert_png(cluster_op_usage(usage_table(), tmp_path / "usage.png"))


def test_tau_by_min_accuracy_writes_png(tmp_path):
    assert_png(tau_by_min_accuracy(tau_curve(), tmp_path / "tau.png"))
    assert_png(tau_by_min_accuracy(tau_curve(with_n=False), tmp_path / "tau_no_n.png"))


def test_cluster_map_writes_png(tmp_path):
    xy, labels, weights = map_inputs()
    assert_png(cluster_map(xy, labels, tmp_path / "map.png", selected=2, weights=weights))
    assert_png(cluster_map(xy, labels, tmp_path / "map_plain.png"))


def test_cluster_map_coloured_by_score_with_unscored_clusters(tmp_path):
    xy, labels, weights = map_inputs()
    scores = {0: 0.2, 1: 0.9, 2: np.nan, 3: 0.5}  # cluster 2 not scored, cluster 4 absent: grey
    assert_png(cluster_map(xy, labels, tmp_path / "scored.png", selected=1, weights=weights, scores=scores))
    with pytest.raises(BadInput, match="no cluster has a score"):
        cluster_map(xy, labels, tmp_path / "none.png", scores={0: np.nan})


def test_the_methods_chart_has_a_panel_per_dataset_and_sets_single_networks_apart(tmp_path, monkeypatch):
    drawn = _drawn(monkeypatch)
    methods_chart(methods_table(), tmp_path / "m.png", single=("Intrinsic",))
    [fig] = drawn
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().split("\n")[0] for ax in panels] == ["cifar10", "cifar100"]
    for ax in panels:  # the title says what the accuracy axis zooms to
        low, high = ax.get_xlim()
        assert f"{low:.1f}–{high:.1f} %" in ax.get_title()
    labels = [t.get_text() for t in panels[0].get_yticklabels()]
    assert labels[-1] == "Intrinsic (one network)" and "Intrinsic" not in labels[:-1]
    ticks = panels[0].get_yticks()
    assert ticks[-1] - ticks[-2] > ticks[1] - ticks[0]  # a gap before the single network
    assert any(line.get_linestyle() == "--" for line in panels[0].get_lines())  # and a line


def test_cluster_map_many_clusters(tmp_path):
    xy, labels, weights = map_inputs(n=250, k=25)
    assert_png(cluster_map(xy, labels, tmp_path / "map25.png", selected=24, weights=weights))


# ------------------------------------------------------------ determinism

def test_same_input_gives_identical_bytes(tmp_path):
    a = methods_chart(methods_table(), tmp_path / "a.png").read_bytes()
    b = methods_chart(methods_table(), tmp_path / "b.png").read_bytes()
    assert a == b
    xy, labels, weights = map_inputs()
    c = cluster_map(xy, labels, tmp_path / "c.png", selected=1, weights=weights).read_bytes()
    d = cluster_map(xy, labels, tmp_path / "d.png", selected=1, weights=weights).read_bytes()
    assert c == d
    assert b"Software" not in a and b"matplotlib" not in a


# ------------------------------------------------------------ bad input

@pytest.mark.parametrize("column", ["dataset", "constraint", "method", "mean"])
def test_methods_chart_missing_column(tmp_path, column):
    with pytest.raises(BadInput, match=column):
        methods_chart(methods_table().drop(columns=column), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize("column", ["min_accuracy", "statistic", "tau"])
def test_tau_by_min_accuracy_missing_column(tmp_path, column):
    with pytest.raises(BadInput, match=column):
        tau_by_min_accuracy(tau_curve().drop(columns=column), tmp_path / "x.png")


def test_empty_tables_raise(tmp_path):
    with pytest.raises(BadInput, match="empty"):
        methods_chart(methods_table().iloc[:0], tmp_path / "x.png")
    with pytest.raises(BadInput, match="empty"):
        cluster_op_usage(usage_table().iloc[:0], tmp_path / "x.png")
    with pytest.raises(BadInput, match="empty"):
        tau_by_min_accuracy(tau_curve().iloc[:0], tmp_path / "x.png")
    with pytest.raises(BadInput, match="empty"):
        cluster_map(np.zeros((0, 2)), np.zeros(0, dtype=int), tmp_path / "x.png")


def test_methods_chart_duplicate_pair_raises(tmp_path):
    table = methods_table()
    with pytest.raises(BadInput, match="two rows"):
        methods_chart(pd.concat([table, table.iloc[:1]]), tmp_path / "x.png")


def test_messages_are_one_line(tmp_path):
    with pytest.raises(BadInput) as caught:
        methods_chart(methods_table().drop(columns="mean"), tmp_path / "x.png")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "xy, labels, weights",
    [
        (np.zeros((10, 3)), np.zeros(10, dtype=int), None),
        (np.zeros(10), np.zeros(10, dtype=int), None),
        (np.zeros((10, 2)), np.zeros(9, dtype=int), None),
        (np.zeros((10, 2)), np.zeros((10, 1), dtype=int), None),
        (np.zeros((10, 2)), np.zeros(10, dtype=int), np.ones(11)),
    ],
)
def test_cluster_map_shape_mismatch_raises(tmp_path, xy, labels, weights):
    with pytest.raises(BadInput, match="shape"):
        cluster_map(xy, labels, tmp_path / "x.png", weights=weights)


def test_cluster_map_unknown_selected_raises(tmp_path):
    xy, labels, _ = map_inputs()
    with pytest.raises(BadInput, match="selected cluster 99"):
        cluster_map(xy, labels, tmp_path / "x.png", selected=99)


# ------------------------------------------------------------ project_2d

def test_project_2d_shape_and_determinism():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(40, 6))
    first = project_2d(features)
    assert first.shape == (40, 2)
    np.testing.assert_array_equal(first, project_2d(features.copy()))
    np.testing.assert_allclose(first.mean(axis=0), 0.0, atol=1e-12)
    assert first[:, 0].var() >= first[:, 1].var() > 0


def test_project_2d_sign_convention():
    rng = np.random.default_rng(3)
    features = rng.normal(size=(30, 4)) * np.array([5.0, 2.0, 1.0, 0.5])
    # Negating the data flips the raw SVD signs, but not the result's convention:
    # each component's largest-|value| loading is positive, so scores flip with the data.
    np.testing.assert_allclose(project_2d(-features), -project_2d(features), atol=1e-10)


def test_project_2d_points_on_a_line():
    t = np.linspace(-3.0, 5.0, 25)
    features = np.outer(t, [1.0, -2.0, 0.5]) + np.array([4.0, 1.0, -7.0])
    result = project_2d(features)
    np.testing.assert_allclose(result[:, 1], 0.0, atol=1e-9)
    np.testing.assert_allclose(np.abs(result[:, 0]), np.abs(t - t.mean()) * np.linalg.norm([1.0, -2.0, 0.5]),
                               atol=1e-12)
    # The largest loading (-2.0) is made positive, so the scores run against t.
    assert result[0, 0] > 0 > result[-1, 0]


def test_project_2d_degenerate_inputs():
    np.testing.assert_array_equal(project_2d(np.ones((5, 3))), np.zeros((5, 2)))
    single = project_2d(np.arange(6.0)[:, None])
    assert single.shape == (6, 2)
    np.testing.assert_array_equal(single[:, 1], 0.0)
    np.testing.assert_allclose(single[:, 0], np.arange(6.0) - 2.5)
    np.testing.assert_array_equal(project_2d(np.array([[1.0, 2.0]])), np.zeros((1, 2)))
    with pytest.raises(BadInput):
        project_2d(np.zeros((0, 3)))
    with pytest.raises(BadInput):
        project_2d(np.array([[1.0, np.nan]]))


def test_module_leaves_global_matplotlib_state_alone():
    import inspect

    source = inspect.getsource(figures)
    assert "import matplotlib.pyplot" not in source and "from matplotlib import pyplot" not in source
    assert "matplotlib.use(" not in source


def _drawn(monkeypatch) -> list:
    drawn = []
    original = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, path: drawn.append(fig) or original(fig, path))
    return drawn


def test_operations_with_equal_shares_everywhere_are_one_group(tmp_path, monkeypatch):
    drawn = _drawn(monkeypatch)
    usage = pd.DataFrame({"relu": [0.3, 0.2], "conv": [0.4, 0.5], "batchnorm": [0.3, 0.2], "pool": [0.0, 0.1]},
                         index=["best", "worst"])
    cluster_op_usage(usage, tmp_path / "u.png")
    labels = [t.get_text() for t in drawn[0].axes[0].get_xticklabels()]
    assert labels == ["relu = batchnorm", "conv", "pool"]


def test_the_tau_chart_draws_points_with_intervals_not_lines_over_empty_ranges(tmp_path, monkeypatch):
    from cbred_ray.evaluate.faithfulness import tau_by_min_accuracy as curve_of

    rng = np.random.default_rng(0)
    accuracy = pd.Series(rng.uniform(0, 100, 300))
    stats = pd.DataFrame({"a": accuracy + rng.normal(0, 20, 300), "b": rng.normal(size=300)})
    curve = curve_of(stats, accuracy, [0, 50, 90], bootstrap=20)
    assert ((curve["tau_low"] <= curve["tau"]) & (curve["tau"] <= curve["tau_high"])).all()
    drawn = _drawn(monkeypatch)
    tau_by_min_accuracy(curve, tmp_path / "t.png")
    ax = drawn[0].axes[0]
    connected = [line for line in ax.get_lines() if len(line.get_xdata()) > 2 and line.get_linestyle() != "None"]
    assert connected == []  # whiskers are two-point segments; no line runs from threshold to threshold
    assert len(ax.containers) == 2  # one errorbar (point and interval) per statistic
