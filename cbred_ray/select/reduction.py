"""The reduction itself, given clusters and statistics: score the clusters, keep the best.

C-BRED (C) keeps the best cluster; C-BRED (Q + C) keeps the best members of the best
cluster, ranked by the mean of the statistics' oriented ranks (or, with ``combine: log_rank``,
the sum of their logarithms), up to a fraction of the space. With ``union_share`` the clusters are
kept in order of score until they hold that share of the space, and ``union_cut`` cuts their union
to exactly that share by a cost every architecture has for free (parameters or MACs, largest first).
Pure functions of (ranks, clusters, costs, :class:`~cbred_ray.select.settings.Selection`): no
accuracy ever enters.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cbred_ray.errors import BadInput
from cbred_ray.select.scoring import best_cluster, log_rank, score_clusters
from cbred_ray.select.settings import Selection, top_count


def ensemble_rank(ranks: pd.DataFrame, combine: str = "mean") -> pd.Series:
    """One order of architectures from the statistics' oriented ranks (higher is better; NaN where one is
    missing): their mean, or their log-rank sum (AZ-NAS) with ``combine`` "log_rank". The median and
    minimum, which ``combine`` offers for clusters' scores, would tie most architectures: they order by
    the mean."""
    if combine == "log_rank":
        return pd.Series(log_rank(ranks.to_numpy(dtype=np.float64), axis=1), index=ranks.index)
    return ranks.mean(axis=1, skipna=False)


def top_by_rank(rank: pd.Series, n: int) -> pd.Index:
    """The ``n`` best-ranked labels of ``rank`` (missing ranks never chosen; ties: smaller label first)."""
    valid = rank.dropna()
    order = np.lexsort((valid.index.to_numpy(), -valid.to_numpy()))
    return valid.index[order[:n]]


@dataclass(frozen=True)
class Reduction:
    scores: pd.DataFrame  # one row per cluster: per-statistic scores, score, interval, size, selected
    cluster: int  # the best cluster
    members: pd.Index  # every architecture of the best cluster
    selected: pd.Index  # the reduced space: the members, their best ``target`` under Q + C, or the union
    target: int | None  # the Q + C (or cut union's) subset size, None for whole clusters
    kept: tuple[int, ...] = ()  # every cluster of the reduced space, best first


def _union(scores: pd.DataFrame, target: int) -> list[int]:
    """The scored clusters in order of score (ties: the lower id) until they hold ``target`` architectures."""
    order = scores.dropna(subset=["score"]).sort_values(["score", "cluster"], ascending=[False, True])
    kept, held = [], 0
    for cluster, size in zip(order["cluster"].astype(int), order["size"]):
        kept.append(cluster)
        held += int(size)
        if held >= target:
            break
    return kept


def reduce_space(ranks: pd.DataFrame, clusters: pd.Series, cfg: Selection, space_size: int, seed: int,
                 costs: pd.DataFrame | None = None) -> Reduction:
    """Score every cluster from its members' ranks and keep the best (or, with ``cfg.union_share``, the
    best until they hold that share).

    ``clusters``: the cluster of every architecture of the space (after any hardware budget);
    ``ranks``: oriented ranks of the scored architectures (a subset of its index in quick mode);
    ``costs``: ``params`` and ``macs`` of the architectures of ``clusters``, which ``cfg.union_cut`` reads.
    With ``cfg.top_fraction`` the target is ceil(top_fraction x ``space_size``) architectures, and
    clusters with fewer scored members than that cannot be chosen; nor can clusters of more than
    ``cfg.max_cluster_fraction`` of the space.
    """
    target = top_count(space_size, cfg.top_fraction) if cfg.top_fraction is not None else None
    min_size, max_size = cfg.size_limits(space_size, target)
    scores = score_clusters(ranks, clusters, cfg.scoring, cfg.quantile, min_size, bootstrap=cfg.bootstrap, seed=seed,
                            combine=cfg.combine)
    sizes = clusters.value_counts()
    scores["size"] = scores["cluster"].map(sizes).astype("int64")
    if max_size is not None:  # too large to be the reduced space
        scored = [c for c in ("score", "score_low", "score_high") if c in scores]
        scores.loc[scores["size"] > max_size, scored] = np.nan
    try:
        best = best_cluster(scores)
    except ValueError:
        within = "" if max_size is None else f" and at most {max_size} members"
        raise BadInput(f"no cluster has {min_size} scored members{within}: change select.min_cluster_size, "
                       "select.max_cluster_fraction, select.top_fraction or cluster.k") from None
    members = clusters.index[clusters.to_numpy() == best].sort_values()
    kept, selected = [best], members
    if target is not None:
        selected = top_by_rank(ensemble_rank(ranks.loc[ranks.index.intersection(members)], cfg.combine),
                               target).sort_values()
    elif cfg.union_share is not None:
        share = top_count(space_size, cfg.union_share)
        kept = _union(scores, share)
        selected = clusters.index[np.isin(clusters.to_numpy(), kept)].sort_values()
        if cfg.union_cut is not None:
            if costs is None:
                raise ValueError(f"union_cut {cfg.union_cut!r} needs the costs of the architectures")
            target = min(share, len(selected))
            selected = top_by_rank(costs.loc[selected, cfg.union_cut], target).sort_values()
    scores["selected"] = scores["cluster"].isin(kept)
    return Reduction(scores, best, members, selected, target, tuple(kept))
