"""PNG figures of a C-BRED reduction report.

C-BRED reduces a neural-architecture search space by clustering the architectures on
features of their computational graphs, scoring each cluster from training-free
statistics and keeping the best cluster. The functions here draw the report's figures:
the accuracy of each way of choosing architectures, the operation usage of a few
clusters, how well the statistics rank the good networks, and a 2-D map of the clusters.

Every figure is built on its own ``matplotlib.figure.Figure`` with an Agg canvas, so
nothing touches pyplot's global state or the process-wide backend. Each function
validates its input (a missing column or an empty table raises ``BadInput`` with a
one-line message), writes one PNG at 120 dpi (creating the parent folder), and returns
the path written. The PNG carries no software or time metadata: the same input gives
the same bytes.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cbred_ray.errors import BadInput

DPI = 120
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
_MIN_AREA, _MAX_AREA = 8.0, 200.0


# ---------------------------------------------------------------- helpers

def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    # No "Software" chunk and no timestamp: identical inputs give identical bytes.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out


def _check_table(table: object, what: str, columns: Sequence[str] = ()) -> pd.DataFrame:
    if not isinstance(table, pd.DataFrame):
        raise BadInput(f"{what} must be a pandas DataFrame, got {type(table).__name__}")
    for column in columns:
        if column not in table.columns:
            raise BadInput(f"{what} has no {column!r} column")
    if table.empty:
        raise BadInput(f"{what} is empty: nothing to draw")
    return table


def _numeric(values: pd.Series | pd.DataFrame, what: str, allow_nan: bool) -> np.ndarray:
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        raise BadInput(f"{what} must be numeric") from None
    if np.isinf(array).any() or (not allow_nan and np.isnan(array).any()):
        raise BadInput(f"{what} must be finite numbers" + ("" if allow_nan else " (no missing values)"))
    return array


def _colours(count: int) -> list[tuple[float, float, float, float]]:
    """One qualitative colour per series: tab10 up to 10 series, tab20 (cycling) beyond."""
    if count <= 10:
        cmap = colormaps["tab10"]
        return [cmap(i) for i in range(count)]
    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(count)]


def _labels_in_order(column: pd.Series) -> list[str]:
    return [str(v) for v in pd.unique(column.astype(str))]


# ---------------------------------------------------------------- figures

def methods_bar_chart(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    title: str = "Mean test accuracy of each way of choosing",
) -> Path:
    """Grouped bar chart of the mean test accuracy of each way of choosing architectures.

    ``table`` has columns ``constraint`` (str), ``method`` (str), ``mean`` (accuracy in %)
    and optionally ``std`` (drawn as an error bar where present and not NaN). Groups are
    the constraints and bars within a group the methods, both in order of first
    appearance, one colour per method. Each bar is annotated with its value to one
    decimal; the y axis is zoomed to the data so that differences of 1 % show. A
    (constraint, method) pair given twice raises BadInput; a missing pair leaves a gap.
    """
    _check_table(table, "the methods table", ("constraint", "method", "mean"))
    means = _numeric(table["mean"], "column 'mean'", allow_nan=False)
    has_std = "std" in table.columns
    stds = _numeric(table["std"], "column 'std'", allow_nan=True) if has_std else np.full(len(table), np.nan)
    if (stds < 0).any():
        raise BadInput("column 'std' must not be negative")
    constraints = table["constraint"].astype(str).to_numpy()
    methods = table["method"].astype(str).to_numpy()
    pairs = pd.Series(list(zip(constraints, methods)))
    if pairs.duplicated().any():
        constraint, method = pairs[pairs.duplicated()].iloc[0]
        raise BadInput(f"the methods table has two rows for constraint {constraint!r}, method {method!r}")

    groups = _labels_in_order(table["constraint"])
    series = _labels_in_order(table["method"])
    colours = _colours(len(series))
    width = 0.8 / len(series)
    spread = np.nan_to_num(stds)
    low, high = float((means - spread).min()), float((means + spread).max())
    span = max(high - low, 1.0)
    rotate = len(series) > 4

    fig = _new_figure(max(6.0, 1.0 + 0.32 * len(groups) * len(series) + 0.6 * len(groups)), 4.8)
    ax = fig.add_subplot()
    for j, method in enumerate(series):
        rows = np.flatnonzero(methods == method)
        x = np.array([groups.index(constraints[r]) for r in rows]) + (j - (len(series) - 1) / 2) * width
        y, err = means[rows], stds[rows]
        ax.bar(x, y, width=width * 0.95, color=colours[j], label=method, zorder=2)
        shown = ~np.isnan(err)
        if shown.any():
            ax.errorbar(x[shown], y[shown], yerr=err[shown], fmt="none", ecolor="black",
                        elinewidth=0.8, capsize=2, zorder=3)
        for xi, yi, ei in zip(x, y, np.nan_to_num(err)):
            ax.annotate(f"{yi:.1f}", (xi, yi + ei), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=6, rotation=90 if rotate else 0)
    ax.set_xticks(np.arange(len(groups)), groups)
    ax.set_ylim(low - 3.0, high + max(2.0, 0.15 * span if rotate else 0.08 * span))
    ax.set_xlabel("constraint")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(axis="y", linewidth=0.5, alpha=0.5, zorder=0)
    fig.legend(loc="outside lower center", ncol=min(len(series), 4), fontsize=8, frameon=False)
    return _save(fig, path)


def cluster_op_usage(
    usage: pd.DataFrame,
    path: str | os.PathLike[str],
    title: str = "Operation usage of the best, median and worst clusters",
) -> Path:
    """Grouped bar chart of the share of each operation type in a few clusters.

    ``usage`` is indexed by a label per cluster (e.g. ``"best (cluster 3, 69.1 %)"``) with
    one column per operation type; values are shares (each row sums to about 1). The x
    axis holds the operation types, with one bar per cluster row, labelled in the legend.
    Missing shares count as 0; negative or non-numeric shares raise BadInput.
    """
    _check_table(usage, "the operation-usage table")
    if usage.shape[1] == 0:
        raise BadInput("the operation-usage table has no operation columns")
    shares = np.nan_to_num(_numeric(usage, "the operation shares", allow_nan=True))
    if (shares < 0).any():
        raise BadInput("the operation shares must not be negative")
    ops = [str(c) for c in usage.columns]
    rows = [str(i) for i in usage.index]
    colours = _colours(len(rows))
    width = 0.8 / len(rows)

    fig = _new_figure(max(6.0, 1.5 + 0.25 * len(ops) * len(rows) + 0.4 * len(ops)), 4.5)
    ax = fig.add_subplot()
    base = np.arange(len(ops))
    for i, label in enumerate(rows):
        ax.bar(base + (i - (len(rows) - 1) / 2) * width, shares[i], width=width * 0.95,
               color=colours[i], label=label, zorder=2)
    ax.set_xticks(base, ops)
    ax.set_ylim(0.0, max(float(shares.max()), 0.05) * 1.15)
    ax.set_xlabel("operation type")
    ax.set_ylabel("share of kernel nodes")
    ax.set_title(title)
    ax.grid(axis="y", linewidth=0.5, alpha=0.5, zorder=0)
    ax.legend(fontsize=8)
    return _save(fig, path)


def tau_by_min_accuracy(
    curve: pd.DataFrame,
    path: str | os.PathLike[str],
    title: str = "Kendall τ against accuracy, among the networks above a minimum accuracy",
) -> Path:
    """Line chart of each statistic's Kendall τ with accuracy against a minimum accuracy.

    ``curve`` has columns ``min_accuracy`` (%), ``statistic`` (str), ``tau`` (NaN leaves a
    gap) and optionally ``n`` (networks above the threshold). One line with markers per
    statistic, in order of first appearance, and a horizontal line at τ = 0. When ``n``
    is present it is drawn on a right-hand axis as a grey dashed line labelled
    "networks considered" (the first ``n`` given for each threshold).
    """
    _check_table(curve, "the tau curve", ("min_accuracy", "statistic", "tau"))
    thresholds = _numeric(curve["min_accuracy"], "column 'min_accuracy'", allow_nan=False)
    taus = _numeric(curve["tau"], "column 'tau'", allow_nan=True)
    statistics = curve["statistic"].astype(str).to_numpy()
    names = _labels_in_order(curve["statistic"])
    colours = _colours(len(names))

    fig = _new_figure(7.5, 4.8)
    ax = fig.add_subplot()
    ax.axhline(0.0, color="black", linewidth=0.8, zorder=1)
    for j, name in enumerate(names):
        rows = np.flatnonzero(statistics == name)
        order = rows[np.argsort(thresholds[rows], kind="stable")]
        ax.plot(thresholds[order], taus[order], marker=_MARKERS[j % len(_MARKERS)], markersize=4,
                linewidth=1.2, color=colours[j], label=name, zorder=3)
    ax.set_xlabel("minimum test accuracy (%)")
    ax.set_ylabel("Kendall τ")
    ax.set_title(title, fontsize=10)
    ax.grid(linewidth=0.5, alpha=0.5)
    handles, labels = ax.get_legend_handles_labels()
    if "n" in curve.columns:
        counts = _numeric(curve["n"], "column 'n'", allow_nan=True)
        per_threshold = pd.Series(counts).groupby(thresholds, sort=True).first().dropna()
        if not per_threshold.empty:
            ax2 = ax.twinx()
            ax2.plot(per_threshold.index.to_numpy(), per_threshold.to_numpy(), color="grey",
                     linestyle="--", linewidth=1.0, label="networks considered", zorder=2)
            ax2.set_ylabel("networks considered", color="grey")
            ax2.tick_params(axis="y", colors="grey")
            ax2.set_ylim(bottom=0)
            more_handles, more_labels = ax2.get_legend_handles_labels()
            handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, fontsize=8, loc="best")
    return _save(fig, path)


def cluster_map(
    xy: np.ndarray,
    labels: np.ndarray,
    path: str | os.PathLike[str],
    selected: int | None = None,
    weights: np.ndarray | None = None,
    title: str = "Clusters of the computational graphs (2-D projection)",
) -> Path:
    """Scatter plot of 2-D points coloured by their integer cluster label.

    ``xy`` has shape (n, 2) and ``labels`` shape (n,). ``weights`` (shape (n,), default
    all 1) is how many architectures each point stands for: marker area is proportional
    to its square root, between 8 and 200 points². Colours come from a qualitative
    colormap (tab10, or tab20 cycling beyond 10 clusters), given in label order. The
    ``selected`` cluster is drawn on top with a black edge and named in the legend as
    "selected cluster N"; other clusters are in the legend only when there are at most
    10 of them. Shape mismatches, non-finite values, non-integer labels, negative
    weights or a selected cluster absent from ``labels`` raise BadInput.
    """
    points = np.asarray(xy)
    if points.ndim != 2 or points.shape[1] != 2:
        raise BadInput(f"xy must have shape (n, 2), got {points.shape}")
    n = points.shape[0]
    if n == 0:
        raise BadInput("xy is empty: nothing to draw")
    points = _numeric(points, "xy", allow_nan=False)
    raw_labels = np.asarray(labels)
    if raw_labels.shape != (n,):
        raise BadInput(f"labels must have shape ({n},) to match xy, got {raw_labels.shape}")
    if raw_labels.dtype.kind in "iu":
        cluster = raw_labels.astype(np.int64)
    else:
        as_float = _numeric(raw_labels, "labels", allow_nan=False) if raw_labels.dtype.kind != "b" else None
        if as_float is None or (as_float != np.round(as_float)).any():
            raise BadInput("labels must be integer cluster numbers")
        cluster = as_float.astype(np.int64)
    if weights is None:
        area = np.full(n, 20.0 if n > 200 else 40.0)
    else:
        w = np.asarray(weights)
        if w.shape != (n,):
            raise BadInput(f"weights must have shape ({n},) to match xy, got {w.shape}")
        w = _numeric(w, "weights", allow_nan=False)
        if (w < 0).any():
            raise BadInput("weights must not be negative")
        root = np.sqrt(w)
        top = float(root.max())
        area = np.clip(_MAX_AREA * root / top, _MIN_AREA, _MAX_AREA) if top > 0 else np.full(n, _MIN_AREA)
    clusters = [int(c) for c in np.unique(cluster)]
    if selected is not None and int(selected) not in clusters:
        raise BadInput(f"selected cluster {selected} is not among the labels")
    colours = _colours(len(clusters))
    named = len(clusters) <= 10

    fig = _new_figure(7.0, 5.5)
    ax = fig.add_subplot()
    for k, c in enumerate(clusters):
        if selected is not None and c == int(selected):
            continue
        mask = cluster == c
        ax.scatter(points[mask, 0], points[mask, 1], s=area[mask], color=colours[k], alpha=0.75,
                   linewidths=0, label=f"cluster {c}" if named else "_nolegend_", zorder=2)
    if selected is not None:
        k = clusters.index(int(selected))
        mask = cluster == int(selected)
        ax.scatter(points[mask, 0], points[mask, 1], s=area[mask], color=colours[k], alpha=0.95,
                   edgecolors="black", linewidths=0.8, label=f"selected cluster {int(selected)}", zorder=3)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title)
    handles, names = ax.get_legend_handles_labels()
    if handles:
        legend = ax.legend(handles, names, fontsize=8, loc="best", markerscale=1.0)
        for handle in legend.legend_handles:
            handle.set_sizes([30.0])
    return _save(fig, path)


def project_2d(features: np.ndarray) -> np.ndarray:
    """The first two principal components of ``features`` (shape (n, p)), shape (n, 2).

    Computed by an SVD of the column-centred matrix. Signs are fixed so that each
    component's largest-magnitude loading is positive (first one on ties), so the result
    is deterministic. A component that does not exist (a single feature column, constant
    data, a single row) or carries no variance is returned as zeros. A 1-D input is
    taken as a single column; an empty or non-finite input raises BadInput.
    """
    data = np.asarray(features, dtype="float64") if np.asarray(features).dtype.kind in "biuf" else None
    if data is None:
        raise BadInput("features must be numeric")
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise BadInput(f"features must be a 2-D array, got {data.ndim} dimensions")
    n, p = data.shape
    if n == 0 or p == 0:
        raise BadInput(f"features is empty (shape {data.shape})")
    if not np.isfinite(data).all():
        raise BadInput("features must be finite numbers")
    centred = data - data.mean(axis=0)
    out = np.zeros((n, 2))
    _, singular, vt = np.linalg.svd(centred, full_matrices=False)
    tolerance = max(n, p) * np.finfo(np.float64).eps * (float(singular[0]) if singular.size else 0.0)
    for j in range(min(2, singular.size)):
        if singular[j] <= tolerance or singular[j] == 0.0:
            continue
        loading = vt[j]
        if loading[int(np.argmax(np.abs(loading)))] < 0:
            loading = -loading
        out[:, j] = centred @ loading
    return out
