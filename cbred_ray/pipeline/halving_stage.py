"""Statistics by successive halving: the statistics actors score the clusters round by round.

Each round asks the actors (:class:`~cbred_ray.pipeline.stats_stage.StatsRun`, kept alive
across rounds) for the members the halving wants next; their shards are numbered on from the
rounds before, so a killed run replays the rounds and computes only what was not finished.
The selection stage replays the same halving over the stored statistics and so chooses the same
cluster. With precomputed statistics, the rounds read them instead and the measured rows are stored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from cbred_ray.config import RunConfig
from cbred_ray.log import say
from cbred_ray.pipeline.precomputed import write_precomputed
from cbred_ray.pipeline.select_stage import clusters_to_select_from
from cbred_ray.pipeline.stats_stage import StatsRun, read_stats
from cbred_ray.select.halving import halve_clusters
from cbred_ray.select.settings import Selection
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store


def run_halving_stage(store: Store, space: Space, config: RunConfig, precomputed: pa.Table | None,
                      progress: bool) -> dict:
    """Compute the statistics successive halving asks for, over the clusters the selection stage reads."""
    clusters = clusters_to_select_from(store, config.select)
    names = list(config.stats.names)
    selection, budget = Selection.of(config.select), config.select.halving.budget

    def report(number: int, rnd: dict) -> None:
        leader = rnd["contenders"].index(rnd["leader"])
        score, interval = rnd["score"][leader], rnd["interval"][leader]
        at = "no score" if score is None else f"{score:.3f}" + ("" if None in interval else
                                                                f" [{interval[0]:.3f}, {interval[1]:.3f}]")
        say(progress, f"stats round {number}: {len(rnd['contenders'])} clusters in contention, {rnd['spent']} "
                      f"architectures measured; leader {rnd['leader']} at {at}"
                      + (", ahead of every other interval" if rnd["separated"] else ""))

    if precomputed is not None:
        table = precomputed.select(["arch_index", *names]).to_pandas().set_index("arch_index")
        halving = halve_clusters(clusters["cluster"], lambda new: table.loc[new], selection, budget, config.seed,
                                 report)
        record = write_precomputed(store, space, precomputed, np.sort(halving.measured.to_numpy()),
                                   config.stats.precomputed)
    else:
        run = StatsRun(store, space, config.stats, config.seed, progress, config.resources)
        rounds = 0

        def measure(new: np.ndarray) -> pd.DataFrame:
            nonlocal rounds
            run.score(new, clusters.loc[new, "canonical_index"].to_numpy(), label=f"stats round {rounds}")
            rounds += 1
            return read_stats(store, new, names)

        try:
            halving = halve_clusters(clusters["cluster"], measure, selection, budget, config.seed, report)
        finally:
            record = run.close()
    record["halving"] = {**halving.record(), "budget": config.select.halving.budget,
                         "fraction_measured": round(len(halving.measured) / len(clusters), 6)}
    return record
