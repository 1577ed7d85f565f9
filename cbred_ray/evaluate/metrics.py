"""Measures of a reduced search space against a benchmark table.

All functions are pure and deterministic. Accuracies are given as 1-D arrays; a
subset is measured against the whole table (the space), joined on ``arch_str``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import gammaln

from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import ARCH_COLUMN, accuracy_columns
from cbred_ray.select.reduction import top_by_rank
from cbred_ray.select.settings import top_count

RANDOM_SEARCH_SIZES: tuple[int, ...] = (10, 100)
TOP_FRACTION = 0.01
TOP_KEPT_FRACTION = 0.001
"""The best share of the space whose members a reduction is asked to account for (``top01_kept``): a search
confined to the reduced space can never find what was cut."""
FREE_BASELINES = {"Params-Quantiled": "params", "MACs-Quantiled": "macs"}
"""Subsets a user has without any statistic: the largest networks by a cost (the column of ``costs`` read)."""


def free_baselines(costs: pd.DataFrame, size: int) -> dict[str, list]:
    """The ``size`` architectures with the most parameters, and with the most MACs (``costs``: ``params`` and
    ``macs``, one row per architecture; ties: the smaller label first), as labels of ``costs``."""
    return {name: top_by_rank(costs[column], size).tolist() for name, column in FREE_BASELINES.items()}


def _as_accuracies(acc: np.ndarray) -> np.ndarray:
    values = np.asarray(acc, dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise BadInput(f"accuracies must be a non-empty 1-D array, got shape {values.shape}")
    return values


def expected_best_of_random(acc: np.ndarray, n: int) -> float:
    """Exact expected maximum of ``n`` draws without replacement from ``acc``.

    With the M values sorted ascending, a_(1) <= ... <= a_(M), the maximum of a
    uniformly random n-subset is a_(i) exactly when the subset holds position i and
    n - 1 of the i - 1 positions below it, so

        E[max] = sum_{i=n}^{M} a_(i) * C(i - 1, n - 1) / C(M, n).

    Ties need no special care: positions are distinct even where values are equal.
    The weights are computed as exp(log C(i-1, n-1) - log C(M, n)) with
    log C(a, b) = lgamma(a + 1) - lgamma(b + 1) - lgamma(a - b + 1). When n >= M
    every draw takes the whole array and the result is max(acc).
    """
    values = np.sort(_as_accuracies(acc))
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise BadInput(f"number of random draws must be a positive integer, got {n!r}")
    size = values.size
    if n >= size:
        return float(values[-1])
    positions = np.arange(n, size + 1, dtype=np.float64)  # i = n .. M (1-based)
    log_weights = _log_binom(positions - 1, n - 1) - _log_binom(np.float64(size), n)
    return float(np.dot(values[n - 1 :], np.exp(log_weights)))


def _log_binom(a: np.ndarray | np.float64, b: int) -> np.ndarray:
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def top_recall(space_acc: np.ndarray, selected: np.ndarray, q: float = TOP_FRACTION) -> float:
    """Share of the space's best ``q`` fraction that the subset keeps.

    ``space_acc`` holds the accuracy of every architecture in the space and
    ``selected`` is a boolean mask of the same length marking the subset. The top
    set T is the first k = ceil(q * M) architectures by accuracy, descending, with
    ties broken by position in ``space_acc`` (earlier first), so T has exactly k
    members. The recall is |T ∩ subset| / k.
    """
    values = _as_accuracies(space_acc)
    mask = np.asarray(selected)
    if mask.dtype != np.bool_ or mask.shape != values.shape:
        raise BadInput(f"selection must be a boolean mask of shape {values.shape}, got {mask.dtype} {mask.shape}")
    k = top_count(values.size, q)
    top = np.argsort(-values, kind="stable")[:k]
    return float(mask[top].sum() / k)


def evaluate_subset(
    selected_arch_strs: Sequence[str], table: pd.DataFrame, space_size: int | None = None, key: str = ARCH_COLUMN,
) -> dict:
    """Measure a subset of architectures against a benchmark table.

    ``table`` is a benchmark frame (as :func:`cbred_ray.evaluate.benchmark.load_benchmark` reads
    it) keyed by the identifier column ``key``; the space is its rows.
    Repeated arch strings in the selection count once. ``subset_share`` divides the
    subset size by ``space_size`` (default: the number of table rows). For each
    dataset the result holds subset and space mean, median and max, the top-1 %
    recall (:func:`top_recall`), what the subset loses (``best_kept``: 1.0 when it holds the space's best
    accuracy; ``top01_kept`` of the ``top01_size`` best 0.1 %) and the expected best of a random search of 10 and
    100 networks (:func:`expected_best_of_random`) in the subset and in the space.
    Rows are ordered by ``arch_str`` first, so ties in the top-1 % do not depend on
    the table's row order.

    Returns a JSON-serialisable dict ``{"n_selected": int, "datasets": {name: {...}}}``.
    BadInput when the table is not a valid benchmark, the selection is empty, a
    selected arch is not in the table, or ``space_size`` is smaller than the table.
    """
    space = _checked(table, key).sort_values(key, kind="stable").reset_index(drop=True)
    denominator = len(space) if space_size is None else int(space_size)
    if denominator < len(space):
        raise BadInput(f"space size {space_size} is smaller than the benchmark table ({len(space)} rows)")
    mask = _selection_mask(selected_arch_strs, space[key])
    datasets = {
        dataset: _dataset_report(space[column].to_numpy(dtype=np.float64), mask, denominator)
        for dataset, column in accuracy_columns(space).items()
    }
    return {"n_selected": int(mask.sum()), "datasets": datasets}


def _checked(table: pd.DataFrame, key: str) -> pd.DataFrame:
    """The identifier and accuracy columns of a benchmark frame (read with
    :func:`~cbred_ray.evaluate.benchmark.load_benchmark`, which checks the identifiers against the space);
    BadInput when the key is missing or repeats, or an accuracy is missing."""
    if key not in table.columns:
        raise BadInput(f"benchmark table has no {key!r} column (columns: {list(map(str, table.columns))})")
    columns = accuracy_columns(table)
    if table[key].duplicated().any():
        raise BadInput(f"benchmark table: {key} {table[key][table[key].duplicated()].iloc[0]!r} is duplicated")
    for column in columns.values():
        if table[column].isna().any():
            raise BadInput(f"benchmark table: accuracy column {column!r} has missing values")
    return table[[key, *columns.values()]]


def _selection_mask(selected_arch_strs: Sequence[str], arch_strs: pd.Series) -> np.ndarray:
    wanted = pd.Index(list(dict.fromkeys(selected_arch_strs)))
    if wanted.empty:
        raise BadInput("the selection is empty: nothing to evaluate")
    missing = wanted.difference(arch_strs, sort=False)
    if len(missing):
        raise BadInput(
            f"selected arch {missing[0]!r} is not in the benchmark table ({len(missing)} selected arch(s) missing)"
        )
    return arch_strs.isin(wanted).to_numpy()


def _dataset_report(space_acc: np.ndarray, mask: np.ndarray, space_size: int) -> dict[str, float | int]:
    subset_acc = space_acc[mask]
    report: dict[str, float | int] = {
        "subset_size": int(mask.sum()),
        "subset_share": float(mask.sum() / space_size),
        "subset_mean": float(subset_acc.mean()),
        "space_mean": float(space_acc.mean()),
        "subset_median": float(np.median(subset_acc)),
        "space_median": float(np.median(space_acc)),
        "subset_max": float(subset_acc.max()),
        "space_max": float(space_acc.max()),
        "top1_recall": top_recall(space_acc, mask, TOP_FRACTION),
        "best_kept": float(subset_acc.max() == space_acc.max()),
        "top01_kept": int(round(top_recall(space_acc, mask, TOP_KEPT_FRACTION) * top_count(space_acc.size,
                                                                                        TOP_KEPT_FRACTION))),
        "top01_size": top_count(space_acc.size, TOP_KEPT_FRACTION),
    }
    for n in RANDOM_SEARCH_SIZES:
        report[f"expected_best_random_{n}"] = expected_best_of_random(subset_acc, n)
        report[f"space_expected_best_random_{n}"] = expected_best_of_random(space_acc, n)
    return report


def evaluate_region(inside: np.ndarray, table: pd.DataFrame, seed: int = 0, bootstrap: int = 1000) -> dict:
    """How the labelled architectures of a partial table (``table``: a benchmark frame) fall in a region
    (``inside``: a mask over its rows): per dataset, how many are inside, their mean accuracy against all
    labelled ones, and 95 % bootstrap intervals (the labelled rows resampled ``bootstrap`` times) of the mean
    inside and of the difference. With none inside the means are None."""
    inside = np.asarray(inside, dtype=bool)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(table), size=(bootstrap, len(table)))
    datasets = {}
    for dataset, column in accuracy_columns(table).items():
        accuracy = table[column].to_numpy(dtype=np.float64)
        report = {"labelled": len(accuracy), "inside": int(inside.sum()), "share_inside": float(inside.mean()),
                  "mean_all": float(accuracy.mean()), "mean_inside": None, "difference": None,
                  "mean_inside_interval": None, "difference_interval": None}
        if inside.any():
            report["mean_inside"] = float(accuracy[inside].mean())
            report["difference"] = report["mean_inside"] - report["mean_all"]
            taken, values = inside[draws], accuracy[draws]
            counts = taken.sum(axis=1)
            ok = counts > 0
            means = (values * taken).sum(axis=1)[ok] / counts[ok]
            differences = means - values.mean(axis=1)[ok]
            report["mean_inside_interval"] = [float(v) for v in np.percentile(means, [2.5, 97.5])]
            report["difference_interval"] = [float(v) for v in np.percentile(differences, [2.5, 97.5])]
        datasets[dataset] = report
    return {"labelled": len(table), "inside": int(inside.sum()), "datasets": datasets}
