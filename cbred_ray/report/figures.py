"""PNG figures of a C-BRED reduction report.

C-BRED reduces a neural-architecture search space by clustering the architectures on
features of their computational graphs, scoring each cluster from training-free
statistics and keeping the best cluster. The functions here draw the report's figures:
the accuracy of each way of choosing architectures, on every dataset, the operation usage of a few
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

def methods_chart(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    single: Sequence[str] = ("Intrinsic",),
    title: str = "Test accuracy of each way of choosing",
) -> Path:
    """Dot chart of the test accuracy of each way of choosing, one panel per dataset.

    ``table`` has columns ``dataset``, ``constraint``, ``method``, ``mean`` (accuracy in %) and
    optionally ``std`` (a whisker where present and not NaN). Each method is a row and each
    constraint a marker and colour (offset within the row); datasets and methods keep their
    order of first appearance. Subset means come first; the methods named in ``single`` choose
    one network, not a subset, and are drawn below a separating line, labelled as such, with
    hollow markers. Dots carry no zero baseline, so the accuracy axis is zoomed to the data (its
    range is in the tick labels). A (dataset, constraint, method) given twice raises BadInput.
    """
    _check_table(table, "the methods table", ("dataset", "constraint", "method", "mean"))
    means = _numeric(table["mean"], "column 'mean'", allow_nan=False)
    stds = _numeric(table["std"], "column 'std'", allow_nan=True) if "std" in table.columns \
        else np.full(len(table), np.nan)
    if (stds < 0).any():
        raise BadInput("column 'std' must not be negative")
    keys = pd.Series(list(zip(table["dataset"].astype(str), table["constraint"].astype(str),
                              table["method"].astype(str))))
    if keys.duplicated().any():
        dataset, constraint, method = keys[keys.duplicated()].iloc[0]
        raise BadInput(f"the methods table has two rows for dataset {dataset!r}, constraint {constraint!r}, "
                       f"method {method!r}")
    datasets, constraints = _labels_in_order(table["dataset"]), _labels_in_order(table["constraint"])
    methods = _labels_in_order(table["method"])
    singles = [m for m in methods if m in set(single)]
    subsets = [m for m in methods if m not in set(single)]
    rows = {m: i for i, m in enumerate(subsets)}
    rows.update({m: len(subsets) + 0.6 + i for i, m in enumerate(singles)})  # a gap before the single networks
    colours, offset = _colours(len(constraints)), 0.6 / max(len(constraints), 1)

    fig = _new_figure(max(6.0, 3.2 * len(datasets) + 1.5), 1.2 + 0.42 * (len(methods) + 1))
    axes = fig.subplots(1, len(datasets), sharey=True, squeeze=False)[0]
    for ax, dataset in zip(axes, datasets):
        in_dataset = table["dataset"].astype(str).to_numpy() == dataset
        for j, constraint in enumerate(constraints):
            picked = np.flatnonzero(in_dataset & (table["constraint"].astype(str).to_numpy() == constraint))
            names = table["method"].astype(str).to_numpy()[picked]
            y = np.array([rows[m] for m in names]) + (j - (len(constraints) - 1) / 2) * offset
            hollow = np.array([m in set(single) for m in names])
            for mask, face in ((~hollow, colours[j]), (hollow, "white")):
                if mask.any():
                    ax.errorbar(means[picked][mask], y[mask], xerr=np.nan_to_num(stds[picked][mask]), fmt=_MARKERS[j % len(_MARKERS)],
                                color=colours[j], markerfacecolor=face, markersize=5, elinewidth=0.8, capsize=2,
                                label=constraint if face != "white" or not (~hollow).any() else "_nolegend_", zorder=3)
        if singles:
            ax.axhline(len(subsets) - 0.2, color="grey", linewidth=0.8, linestyle="--", zorder=1)
        low, high = ax.get_xlim()
        ax.set_title(f"{dataset}\n(axis zoomed to {low:.1f}–{high:.1f} %)", fontsize=9)
        ax.set_xlabel("test accuracy (%): the subset's mean,\nor the one network's")
        ax.grid(axis="x", linewidth=0.5, alpha=0.5, zorder=0)
    ticks = list(rows.values())
    labels = [m for m in subsets] + [f"{m} (one network)" for m in singles]
    axes[0].set_yticks(ticks, labels)
    axes[0].invert_yaxis()
    if singles:
        axes[0].annotate("a single network, not a subset", xy=(0, len(subsets) + 0.15),
                         xycoords=("axes fraction", "data"), xytext=(2, 0), textcoords="offset points",
                         fontsize=7, color="grey", va="bottom")
    handles, names = axes[0].get_legend_handles_labels()
    seen = dict(zip(names, handles))
    fig.legend(list(seen.values()), list(seen), title="constraint", loc="outside lower center",
               ncol=min(len(seen), 4), fontsize=8, title_fontsize=8, frameon=False)
    fig.suptitle(title + " (whiskers: spread over seeds)", fontsize=10)
    return _save(fig, path)


def cluster_op_usage(
    usage: pd.DataFrame,
    path: str | os.PathLike[str],
    title: str = "Operation usage of the best, median and worst clusters",
) -> Path:
    """Grouped bar chart of the share of each operation type in a few clusters.

    ``usage`` is indexed by a label per cluster (e.g. ``"best (cluster 3, 69.1 %)"``) with
    one column per operation type; values are shares (each row sums to about 1). The x
    axis holds the operation types, with one bar per cluster row, labelled in the legend;
    operation types with equal shares in every row are one group, labelled "a = b".
    Missing shares count as 0; negative or non-numeric shares raise BadInput.
    """
    _check_table(usage, "the operation-usage table")
    if usage.shape[1] == 0:
        raise BadInput("the operation-usage table has no operation columns")
    shares = np.nan_to_num(_numeric(usage, "the operation shares", allow_nan=True))
    if (shares < 0).any():
        raise BadInput("the operation shares must not be negative")
    ops, keep = [], []
    for j, column in enumerate(usage.columns):  # operations that always come together: one group
        same = next((i for i, k in enumerate(keep) if np.array_equal(shares[:, k], shares[:, j])), None)
        if same is None:
            keep.append(j)
            ops.append(str(column))
        else:
            ops[same] += f" = {column}"
    shares = shares[:, keep]
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

    ``curve`` has columns ``min_accuracy`` (%), ``statistic`` (str), ``tau`` (NaN: no point) and
    optionally ``tau_low`` and ``tau_high`` (an interval, drawn as a whisker) and ``n`` (networks above
    the threshold). Points, not lines: the thresholds are uneven (accuracy quantiles), and a line would
    claim values over the empty ranges between them. One marker per statistic, side by side at each
    threshold, in order of first appearance, and a horizontal line at τ = 0. When ``n`` is present it
    is drawn on a right-hand axis as grey dashes labelled "networks considered" (the first ``n`` given
    for each threshold).
    """
    _check_table(curve, "the tau curve", ("min_accuracy", "statistic", "tau"))
    thresholds = _numeric(curve["min_accuracy"], "column 'min_accuracy'", allow_nan=False)
    taus = _numeric(curve["tau"], "column 'tau'", allow_nan=True)
    statistics = curve["statistic"].astype(str).to_numpy()
    names = _labels_in_order(curve["statistic"])
    colours = _colours(len(names))

    lows = _numeric(curve["tau_low"], "column 'tau_low'", allow_nan=True) if "tau_low" in curve else None
    highs = _numeric(curve["tau_high"], "column 'tau_high'", allow_nan=True) if "tau_high" in curve else None
    span = float(np.ptp(thresholds)) if len(thresholds) else 0.0
    fig = _new_figure(7.5, 4.8)
    ax = fig.add_subplot()
    ax.axhline(0.0, color="black", linewidth=0.8, zorder=1)
    for j, name in enumerate(names):
        rows = np.flatnonzero(statistics == name)
        order = rows[np.argsort(thresholds[rows], kind="stable")]
        x = thresholds[order] + (j - (len(names) - 1) / 2) * 0.006 * span  # side by side at each threshold
        error = None
        if lows is not None and highs is not None:
            error = np.vstack([taus[order] - lows[order], highs[order] - taus[order]])
            error = np.where(np.isfinite(error), np.maximum(error, 0.0), 0.0)
        ax.errorbar(x, taus[order], yerr=error, fmt=_MARKERS[j % len(_MARKERS)], markersize=4, linestyle="none",
                    elinewidth=0.8, capsize=2, color=colours[j], label=name, zorder=3)
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
            ax2.plot(per_threshold.index.to_numpy(), per_threshold.to_numpy(), color="grey", marker="_",
                     markersize=10, linestyle="none", label="networks considered", zorder=2)
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
    scores: dict[int, float] | None = None,
    title: str = "Clusters of the computational graphs (2-D projection)",
) -> Path:
    """Scatter plot of 2-D points, one per distinct graph, with a legend for what each mark means.

    ``xy`` has shape (n, 2) and ``labels`` shape (n,), the cluster of each point. Colour: with
    ``scores`` (cluster -> score; NaN or absent: the cluster was not scored), the point's cluster
    score on a continuous scale with a colour bar, unscored clusters (those that cannot be chosen) in light grey; without, one
    distinct colour per cluster (a qualitative palette up to 20 clusters, an evenly sampled
    continuous one beyond, never a repeated colour). Size: ``weights`` (default all
    1) is how many architectures each point stands for; marker area grows with its square root,
    between 8 and 200 points², and the legend shows three reference sizes. Ring: the ``selected``
    cluster's points have a black edge and are drawn on top. Shape mismatches, non-finite values,
    non-integer labels, negative weights, a selected cluster absent from ``labels`` or scores
    none of which is finite raise BadInput.
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
    w = np.ones(n) if weights is None else np.asarray(weights)
    if w.shape != (n,):
        raise BadInput(f"weights must have shape ({n},) to match xy, got {w.shape}")
    w = _numeric(w, "weights", allow_nan=False)
    if (w < 0).any():
        raise BadInput("weights must not be negative")
    top = float(np.sqrt(w).max())

    def area(count):
        return np.clip(_MAX_AREA * np.sqrt(count) / top, _MIN_AREA, _MAX_AREA) if top > 0 else _MIN_AREA

    clusters = [int(c) for c in np.unique(cluster)]
    if selected is not None and int(selected) not in clusters:
        raise BadInput(f"selected cluster {selected} is not among the labels")
    if scores is not None and not any(np.isfinite(scores.get(c, np.nan)) for c in clusters):
        raise BadInput("no cluster has a score to colour it by")
    fig = _new_figure(7.5, 6.6)
    ax = fig.add_subplot()
    ring = cluster == int(selected) if selected is not None else np.zeros(n, bool)
    extra = []
    if scores is not None:
        values = np.array([scores.get(int(c), np.nan) for c in cluster], dtype=float)
        scored = np.isfinite(values)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        if (~scored).any():
            ax.scatter(points[~scored, 0], points[~scored, 1], s=area(w[~scored]), color="lightgrey", linewidths=0,
                       zorder=1)
            extra.append(ax.scatter([], [], s=30, color="lightgrey", label="grey: a cluster that cannot be chosen (not scored)"))
        drawn = None
        for mask, edge, order in ((scored & ~ring, "none", 2), (scored & ring, "black", 3)):
            if mask.any():
                drawn = ax.scatter(points[mask, 0], points[mask, 1], s=area(w[mask]), c=values[mask], cmap="viridis",
                                   vmin=low, vmax=high, edgecolors=edge, linewidths=0.9, alpha=0.85, zorder=order)
        fig.colorbar(drawn, ax=ax, location="bottom", shrink=0.6, pad=0.02,
                     label="colour: the score of the point's cluster (the highest is kept)")
        colour_note = "colour: the cluster's score (bar below)"
    else:
        palette = (_colours(len(clusters)) if len(clusters) <= 20 else
                   [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, len(clusters))])
        for k, c in enumerate(clusters):
            mask = cluster == c
            ax.scatter(points[mask, 0], points[mask, 1], s=area(w[mask]), color=palette[k], alpha=0.85,
                       edgecolors="black" if selected is not None and c == int(selected) else "none",
                       linewidths=0.9, zorder=3 if selected is not None and c == int(selected) else 2)
        colour_note = f"colour: the cluster ({len(clusters)} clusters)"
    ax.set_xlabel("principal component 1 of the graph features")
    ax.set_ylabel("principal component 2")
    ax.set_title(title, fontsize=10)
    reference = sorted({max(1, int(round(x))) for x in np.quantile(w[w > 0] if (w > 0).any() else [1], [0.0, 0.5, 1.0])})
    handles = [ax.scatter([], [], s=area(r), color="grey", alpha=0.6, linewidths=0, label=f"{r:,} architecture"
                          + ("s" if r != 1 else "")) for r in reference]
    if selected is not None:
        handles.append(ax.scatter([], [], s=60, facecolors="none", edgecolors="black", linewidths=0.9,
                                  label=f"black ring: the selected cluster ({int(selected)})"))
    ax.legend(handles=handles + extra, title=f"one point per distinct graph; size: architectures it stands for; "
              f"{colour_note}", fontsize=7, title_fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1),
              ncol=3, frameon=False)
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
