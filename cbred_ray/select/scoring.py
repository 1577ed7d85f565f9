"""Scoring clusters by the distribution of their members' training-free statistics.

Each statistic is turned into a percentile rank in (0, 1] over all scored
architectures, oriented so that higher is better (the catalogue knows each
statistic's orientation; nothing guesses a sign). A cluster's score for one
statistic is a summary (median, mean or a quantile) of its members' ranks; its
overall score combines those summaries over the chosen statistics: their mean, or, more
robust to one misleading statistic, their median or their minimum (a cluster must then be
good by every statistic), or AZ-NAS's log-rank aggregation, the sum of their logarithms
(Lee and Ham, CVPR 2024: Σ_m log(rank_m / N), which punishes a low rank by any one statistic
more than the mean does, less than the minimum). Ranks make statistics on
different scales comparable and are insensitive to the heavy tails of synflow.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from cbred_ray.catalog import CATALOGUE


def log_rank(values: np.ndarray, axis: int = -1) -> np.ndarray:
    """Σ log of ``values`` (ranks in (0, 1]) along ``axis``: AZ-NAS's aggregation of its components."""
    with np.errstate(divide="ignore"):
        return np.log(values).sum(axis=axis)


COMBINE = {"mean": np.mean, "median": np.median, "min": np.min, "log_rank": log_rank}
"""How per-statistic summaries become a cluster's score (NaN when one statistic has none)."""

AZ_COMPONENTS = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")
"""The four statistics AZ-NAS assembles."""


def oriented_ranks(stats: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """Percentile ranks (average ties), higher = better; nulls stay NaN."""
    ranks = {}
    for name in names:
        ascending = CATALOGUE[name].higher_is_better
        ranks[name] = stats[name].astype("float64").rank(pct=True, ascending=ascending, method="average")
    return pd.DataFrame(ranks, index=stats.index)


def az_nas(stats: pd.DataFrame) -> pd.Series:
    """AZ-NAS's score of every row of ``stats``: the log-rank sum of its four components' oriented ranks
    among those rows (a population's property: the same network scores differently among others)."""
    return pd.Series(log_rank(oriented_ranks(stats, AZ_COMPONENTS).to_numpy(np.float64), axis=1),
                     index=stats.index, name="az_nas")


def _summary(values: pd.Series, method: str, quantile: float) -> float:
    values = values.dropna()
    if values.empty:
        return float("nan")
    if method == "median_rank":
        return float(values.median())
    if method == "mean_rank":
        return float(values.mean())
    if method == "quantile_rank":
        return float(values.quantile(quantile))
    raise ValueError(f"unknown scoring {method!r}")


def score_clusters(
    ranks: pd.DataFrame, clusters: pd.Series, method: str = "median_rank", quantile: float = 0.5,
    min_cluster_size: int = 1, bootstrap: int = 0, seed: int = 0, combine: str = "mean",
) -> pd.DataFrame:
    """One row per cluster: per-statistic summaries, ``score`` and ``n_scored``.

    ``ranks`` and ``clusters`` share an index (one row per scored architecture).
    A cluster with fewer than ``min_cluster_size`` scored members gets no score. With
    ``bootstrap`` > 0, ``score_low`` and ``score_high`` bound a 95 % interval of the score
    over that many resamplings of each cluster's members (with replacement, seeded).
    ``combine`` (mean, median, min or log_rank) turns the per-statistic summaries into the score.
    """
    if combine not in COMBINE:
        raise ValueError(f"unknown combination {combine!r}; known: {', '.join(COMBINE)}")
    rng = np.random.default_rng(seed)
    rows = []
    for cluster, members in ranks.groupby(clusters.loc[ranks.index], sort=True):
        row = {"cluster": int(cluster), "n_scored": int(members.notna().all(axis=1).sum())}
        for name in ranks.columns:
            row[f"{name}_score"] = _summary(members[name], method, quantile)
        if bootstrap > 0:
            draws = _bootstrap(members.to_numpy(dtype=np.float64), bootstrap, method, quantile, rng, combine)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a cluster whose every statistic is null
                row["score_low"], row["score_high"] = (float(v) for v in np.nanpercentile(draws, [2.5, 97.5]))
        rows.append(row)
    table = pd.DataFrame(rows)
    summaries = table[[f"{n}_score" for n in ranks.columns]].to_numpy()
    table["score"] = COMBINE[combine](summaries, axis=1)
    too_small = table["n_scored"] < min_cluster_size
    table.loc[too_small, [c for c in ("score", "score_low", "score_high") if c in table]] = np.nan
    return table


def _bootstrap(values: np.ndarray, rounds: int, method: str, quantile: float, rng: np.random.Generator,
               combine: str = "mean", chunk_cells: int = 4_000_000) -> np.ndarray:
    """The overall score of ``rounds`` resamplings (with replacement) of the rows of ``values``
    (members x statistics), vectorised in chunks of about ``chunk_cells`` values."""
    m = len(values)
    per_chunk = max(1, chunk_cells // max(1, m * values.shape[1]))
    scores = []
    for start in range(0, rounds, per_chunk):
        sample = values[rng.integers(m, size=(min(per_chunk, rounds - start), m))]  # (draws, m, statistics)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-null statistic in a draw gives NaN
            if method == "median_rank":
                summary = np.nanmedian(sample, axis=1)
            elif method == "mean_rank":
                summary = np.nanmean(sample, axis=1)
            else:
                summary = np.nanquantile(sample, quantile, axis=1)
        scores.append(COMBINE[combine](summary, axis=1))
    return np.concatenate(scores)


def best_cluster(scores: pd.DataFrame) -> int:
    """The cluster with the highest score (ties: the lowest id)."""
    valid = scores.dropna(subset=["score"])
    if valid.empty:
        raise ValueError("no cluster has a score: every statistic failed or clusters are too small")
    best = valid.sort_values(["score", "cluster"], ascending=[False, True]).iloc[0]
    return int(best["cluster"])


def near_ties(scores: pd.DataFrame, kept: int) -> pd.DataFrame:
    """The clusters whose score interval overlaps the kept cluster's (best score first): the statistics do
    not tell them apart from it, so the choice among them is close to a draw. Under successive halving only
    the clusters of the kept cluster's last round compete with it. Empty when the scores have no intervals."""
    if "score_low" not in scores:
        return scores.iloc[0:0]
    row = scores.loc[scores["cluster"] == kept].iloc[0]
    others = scores[(scores["cluster"] != kept) & scores["score"].notna()
                    & (scores["score_high"] >= row["score_low"]) & (scores["score_low"] <= row["score_high"])]
    if "last_round" in scores:
        others = others[others["last_round"] == row["last_round"]]
    return others.sort_values(["score", "cluster"], ascending=[False, True])


def sample_members(clusters: pd.Series, per_cluster: int, seed: int) -> np.ndarray:
    """Quick mode: a seeded sample of at most ``per_cluster`` members of each cluster (sorted index values)."""
    rng = np.random.default_rng(seed)
    picked = []
    for _, members in clusters.groupby(clusters, sort=True):
        values = np.sort(members.index.to_numpy())
        take = min(per_cluster, len(values))
        picked.append(rng.choice(values, size=take, replace=False))
    return np.sort(np.concatenate(picked))
