"""Sampled cluster scoring: successive halving over the clusters, on a statistics budget.

When the statistics of every architecture cost too much, each cluster's score is
estimated from a seeded sample of its members, with a bootstrap 95 % interval, and
further statistics are spent only on the clusters still in contention:

1. every eligible cluster gets an equal share of the round's budget;
2. the members measured so far are ranked together (percentile ranks, as in
   :mod:`cbred_ray.select.scoring`) and each cluster is scored;
3. the better half stays in contention (at least one); when the leader's interval
   lies above every other contender's, the search stops early;
4. the next round measures more members of the survivors, until one is left: with n
   eligible clusters there are floor(log2 n) rounds, and the budget left is shared
   equally among the rounds still to come. The leader of the last round is the choice.

``measure`` is whatever computes statistics (the statistics actors, or a lookup in
statistics computed before); it is called once per round with the architectures not
measured yet. No accuracy is read.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cbred_ray.errors import BadInput
from cbred_ray.seeds import derive
from cbred_ray.select.scoring import oriented_ranks, score_clusters
from cbred_ray.select.settings import Selection


@dataclass(frozen=True)
class Halving:
    cluster: int  # the chosen cluster
    measured: pd.Index  # every architecture whose statistics were computed
    rounds: list[dict]  # per round: contenders, members measured per contender, scores and intervals

    def record(self) -> dict:
        return {"cluster": self.cluster, "measured": int(len(self.measured)), "rounds": self.rounds}


def _rounded(value: float) -> float | None:
    """A score for the record: 6 decimals, None where there is none (every statistic of the sample null)."""
    return None if pd.isna(value) else round(float(value), 6)


def _member_orders(clusters: pd.Series, contenders: Sequence[int], seed: int) -> dict[int, np.ndarray]:
    """A seeded order of each contender's members: a cluster's sample is a prefix of it."""
    rng = np.random.default_rng(seed)
    return {c: rng.permutation(np.sort(clusters.index[clusters.to_numpy() == c].to_numpy())) for c in contenders}


def successive_halving(clusters: pd.Series, eligible: Sequence[int], measure: Callable[[np.ndarray], pd.DataFrame],
                       statistics: tuple[str, ...], budget: int, seed: int, scoring: str = "median_rank",
                       combine: str = "mean", bootstrap: int = 200, quantile: float = 0.5,
                       report: Callable[[int, dict], None] | None = None) -> Halving:
    """Choose the best of the ``eligible`` clusters, computing statistics for at most ``budget`` architectures.

    ``report``, when given, is called after each round with its number and its record.
    """
    contenders = sorted(int(c) for c in eligible)
    if not contenders:
        raise ValueError("no cluster is eligible")
    if budget < 2 * len(contenders):
        raise ValueError(f"a budget of {budget} cannot give {len(contenders)} clusters two members each")
    orders = _member_orders(clusters, contenders, derive(seed, 0))
    taken = dict.fromkeys(contenders, 0)
    stats = pd.DataFrame(columns=list(statistics), dtype="float64")
    rounds = max(1, len(contenders).bit_length() - 1)  # halvings (n -> n // 2) until one is left
    spent, history = 0, []
    for round_number in range(rounds):
        share = (budget - spent) // (rounds - round_number) // len(contenders)
        share = max(share, 2) if round_number == 0 else share  # every contender needs two members to be scored
        for c in contenders:
            taken[c] = min(len(orders[c]), taken[c] + share)
        wanted = np.concatenate([orders[c][: taken[c]] for c in contenders])
        new = np.setdiff1d(wanted, stats.index.to_numpy())
        if len(new):
            stats = pd.concat([stats, measure(new)[list(statistics)]]).sort_index()
            spent += len(new)
        ranks = oriented_ranks(stats, statistics)
        in_play = ranks.index.isin(wanted)
        scores = score_clusters(ranks[in_play], clusters, scoring, quantile, min_cluster_size=2, bootstrap=bootstrap,
                                seed=derive(seed, round_number + 1), combine=combine).set_index("cluster").loc[contenders]
        scores = scores.reindex(columns=[*scores.columns.difference(["score_low", "score_high"]), "score_low",
                                         "score_high"])  # no intervals without a bootstrap: no early stop
        order = scores.sort_values("score", ascending=False, kind="stable").index.to_list()
        leader = scores.loc[order[0]]
        separated = len(order) > 1 and all(leader["score_low"] > scores.loc[c, "score_high"] for c in order[1:])
        history.append({"contenders": contenders, "measured_per_cluster": [taken[c] for c in contenders],
                        "score": [_rounded(scores.loc[c, "score"]) for c in contenders],
                        "interval": [[_rounded(scores.loc[c, "score_low"]), _rounded(scores.loc[c, "score_high"])]
                                     for c in contenders],
                        "spent": spent, "leader": int(order[0]), "separated": separated})
        if report is not None:
            report(round_number, history[-1])
        if separated or len(contenders) == 1:
            contenders = [order[0]]
            break
        contenders = sorted(order[: max(1, len(order) // 2)])
    return Halving(int(order[0]), stats.index, history)


def halving_budget(fraction: float, space_size: int, clusters: int) -> int:
    """The architectures whose statistics a budget of ``fraction`` of a space of ``space_size`` allows;
    BadInput naming the budget when they are too few to score ``clusters`` clusters from two members each."""
    budget = int(fraction * space_size)
    if budget < 2 * clusters:
        raise BadInput(f"select.halving.budget {fraction} is {budget} of {space_size} architectures: "
                       f"too few to score {clusters} clusters from two members each")
    return budget


def halve_clusters(clusters: pd.Series, measure: Callable[[np.ndarray], pd.DataFrame], cfg: Selection,
                   budget: float, seed: int, report: Callable[[int, dict], None] | None = None) -> Halving:
    """Successive halving over the clusters of at least ``cfg.min_cluster_size`` (and 2) members and at most
    ``cfg.max_cluster_fraction`` of the space, within ``budget`` x the size of the space."""
    sizes = clusters.value_counts().sort_index()
    fewest, most = cfg.size_limits(len(clusters))
    fewest = max(2, fewest)
    eligible = sizes.index[(sizes >= fewest) & (sizes <= (most if most is not None else len(clusters)))].to_list()
    if not eligible:
        within = "" if most is None else f" and at most {most}"
        raise BadInput(f"no cluster has at least {fewest} members{within}: change select.min_cluster_size, "
                       "select.max_cluster_fraction or cluster.k")
    allowed = halving_budget(budget, len(clusters), len(eligible))
    return successive_halving(clusters, eligible, measure, cfg.statistics, allowed, seed, cfg.scoring, cfg.combine,
                              cfg.bootstrap, cfg.quantile, report)


def halving_scores(halving: Halving, clusters: pd.Series) -> pd.DataFrame:
    """One row per cluster that entered the first round: its size, how many of its members were
    measured, the last round it was in (from 0) and its score and interval in that round."""
    sizes = clusters.value_counts()
    rows = {}
    for number, rnd in enumerate(halving.rounds):
        for i, cluster in enumerate(rnd["contenders"]):
            low, high = rnd["interval"][i]
            rows[cluster] = {"cluster": cluster, "size": int(sizes[cluster]),
                             "measured": rnd["measured_per_cluster"][i], "last_round": number,
                             "score": rnd["score"][i], "score_low": low, "score_high": high,
                             "selected": cluster == halving.cluster}
    table = pd.DataFrame(sorted(rows.values(), key=lambda row: row["cluster"]))
    return table.astype({"score": "float64", "score_low": "float64", "score_high": "float64"})
