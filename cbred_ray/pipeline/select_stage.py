"""Selection stage (driver): score clusters from the stored statistics, keep the best."""
from __future__ import annotations

import pyarrow as pa

from cbred_ray.config import SelectConfig
from cbred_ray.select.constraints import budget_mask
from cbred_ray.select.reduction import reduce_space
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.store import Store


def run_select_stage(store: Store, cfg: SelectConfig, seed: int) -> dict:
    clusters = store.read("clusters").to_pandas().set_index("arch_index").sort_index()
    clusters = clusters[budget_mask(clusters, cfg.constraints)]  # a no-op when the budget came before clustering
    stats = store.read("stats", columns=["arch_index", *cfg.statistics]).to_pandas().set_index("arch_index")
    stats = stats.loc[stats.index.intersection(clusters.index)]
    ranks = oriented_ranks(stats, cfg.statistics)
    reduction = reduce_space(ranks, clusters["cluster"], cfg, len(clusters), seed)
    store.write_stage("scores", pa.Table.from_pandas(reduction.scores, preserve_index=False))
    chosen = clusters.loc[reduction.selected].reset_index()
    store.write_stage("selection", pa.Table.from_pandas(
        chosen[["arch_str", "arch_index", "canonical_index", "cluster"]], preserve_index=False))
    score = reduction.scores.loc[reduction.scores["selected"], "score"].iloc[0]
    return {"cluster": reduction.cluster, "rows": len(chosen), "cluster_size": len(reduction.members),
            "target": reduction.target, "space_size": len(clusters), "scored_archs": len(stats),
            "score": float(score)}
