"""Statistics by successive halving: one stage that computes the statistics round by round and makes the choice.

Each round asks the actors (:class:`~cbred_ray.pipeline.stats_stage.StatsRun`, kept alive
across rounds) for the members the halving wants next; their shards are numbered on from the
rounds before, so a killed run replays the rounds and computes only what was not finished. The
stage ends with the halving's choice: the clusters' scores (store stage ``scores``) and the kept
cluster (its record's ``halving``), which the selection stage writes out as every run's selection is
written. With precomputed statistics, the rounds read them instead and the measured rows are stored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from cbred_ray.log import say
from cbred_ray.pipeline.context import RunContext
from cbred_ray.pipeline.precomputed import write_precomputed
from cbred_ray.pipeline.stats_stage import StatsRun, read_stats
from cbred_ray.select.halving import halve_clusters, halving_scores
from cbred_ray.select.settings import Selection


def run_halving_stage(ctx: RunContext, clusters: pd.DataFrame) -> dict:
    """Compute the statistics successive halving asks for over ``clusters`` (the stored clusters, by
    arch_index), store the clusters' scores, and return the stage's record with the halving's choice."""
    config, progress = ctx.config, ctx.progress
    names = list(config.stats.names)
    selection, budget, seed = Selection.of(config.select), config.select.halving.budget, ctx.seeds.of("halving")

    def report(number: int, rnd: dict) -> None:
        leader = rnd["contenders"].index(rnd["leader"])
        score, interval = rnd["score"][leader], rnd["interval"][leader]
        at = "no score" if score is None else f"{score:.3f}" + ("" if None in interval else
                                                                f" [{interval[0]:.3f}, {interval[1]:.3f}]")
        say(progress, f"stats round {number}: {len(rnd['contenders'])} clusters in contention, {rnd['spent']} "
                      f"architectures measured; leader {rnd['leader']} at {at}"
                      + (", ahead of every other interval" if rnd["separated"] else ""))

    if ctx.precomputed is not None:
        table = ctx.precomputed.select(["arch_index", *names]).to_pandas().set_index("arch_index")
        halving = halve_clusters(clusters["cluster"], lambda new: table.loc[new], selection, budget, seed, report)
        record = write_precomputed(ctx.store, ctx.space, ctx.precomputed, np.sort(halving.measured.to_numpy()),
                                   config.stats.precomputed)
    else:
        run = StatsRun(ctx)
        rounds = 0

        def measure(new: np.ndarray) -> pd.DataFrame:
            nonlocal rounds
            run.score(new, clusters.loc[new, "canonical_index"].to_numpy(), label=f"stats round {rounds}")
            rounds += 1
            return read_stats(ctx.store, new, names)

        try:
            halving = halve_clusters(clusters["cluster"], measure, selection, budget, seed, report)
        finally:
            record = run.close()
    ctx.store.write_stage("scores", pa.Table.from_pandas(halving_scores(halving, clusters["cluster"]),
                                                         preserve_index=False))
    record["halving"] = {**halving.record(), "budget": config.select.halving.budget,
                         "fraction_measured": round(len(halving.measured) / len(clusters), 6)}
    return record
