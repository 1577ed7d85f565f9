"""Selection stage (driver): score clusters from the stored statistics, keep the best (or the best until
they hold a share of the space).

Under successive halving the halving is replayed over the stored statistics (the rounds ask
for exactly what the stats stage computed), so the selection is a function of the store.
"""
from __future__ import annotations

import pandas as pd
import pyarrow as pa

from cbred_ray.config import SelectConfig
from cbred_ray.select.constraints import budget_mask, stored_costs
from cbred_ray.select.halving import halve_clusters, halving_scores
from cbred_ray.select.reduction import reduce_space
from cbred_ray.select.scoring import near_ties, oriented_ranks
from cbred_ray.select.settings import Selection
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store


def clusters_to_select_from(store: Store, cfg: SelectConfig) -> pd.DataFrame:
    """The stored clusters (by arch_index) of the architectures within the hardware budget (a no-op
    when the budget came before clustering)."""
    clusters = store.read("clusters").to_pandas().set_index("arch_index").sort_index()
    return clusters[budget_mask(clusters, cfg.constraints.max_params, cfg.constraints.max_macs)]


def run_select_stage(store: Store, space: Space, cfg: SelectConfig, seed: int) -> dict:
    clusters = clusters_to_select_from(store, cfg)
    stats = store.read("stats", columns=["arch_index", *cfg.statistics]).to_pandas().set_index("arch_index")
    stats = stats.loc[stats.index.intersection(clusters.index)]
    record = {}
    selection = Selection.of(cfg)
    if cfg.halving.enabled:
        halving = halve_clusters(clusters["cluster"], lambda new: stats.loc[new], selection, cfg.halving.budget, seed)
        scores, best, target = halving_scores(halving, clusters["cluster"]), halving.cluster, None
        selected = clusters.index[clusters["cluster"].to_numpy() == best]
        record["rounds"] = len(halving.rounds)
    else:
        costs = stored_costs(clusters)
        reduction = reduce_space(oriented_ranks(stats, cfg.statistics), clusters["cluster"], selection, len(clusters),
                                 seed, costs)
        scores, best, selected, target = reduction.scores, reduction.cluster, reduction.selected, reduction.target
        if cfg.union_share is not None:
            record["clusters"] = list(reduction.kept)
    store.write_stage("scores", pa.Table.from_pandas(scores, preserve_index=False))
    chosen = clusters.loc[selected].reset_index()
    store.write_stage("selection", pa.table({
        space.id_column: pa.array(space.format_ids(chosen["arch_index"].to_numpy()), pa.string()),
        "arch_index": pa.array(chosen["arch_index"].to_numpy(), pa.int64()),
        "canonical_index": pa.array(chosen["canonical_index"].to_numpy(), pa.int64()),
        "cluster": pa.array(chosen["cluster"].to_numpy(), pa.int32())}))
    kept = scores.loc[scores["cluster"] == best].iloc[0]
    if "score_low" in scores:
        record["interval"] = [float(kept["score_low"]), float(kept["score_high"])]
        last = record.get("clusters", [best])[-1]  # a union's boundary: its last cluster against those left out
        record["near_ties"] = [{"cluster": int(r["cluster"]), "size": int(r["size"]), "score": float(r["score"]),
                                "interval": [float(r["score_low"]), float(r["score_high"])]}
                               for _, r in near_ties(scores, last).iterrows() if not r["selected"]]
    return {"cluster": best, "rows": len(chosen), "cluster_size": int((clusters["cluster"] == best).sum()),
            "target": target, "space_size": len(clusters), "scored_archs": len(stats), "score": float(kept["score"]),
            **record}
