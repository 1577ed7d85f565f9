"""Selection stage (driver): score clusters from the stored statistics, keep the best."""
from __future__ import annotations

import pyarrow as pa

from cbred_ray.config import SelectConfig
from cbred_ray.select.scoring import best_cluster, oriented_ranks, score_clusters
from cbred_ray.store import Store


def run_select_stage(store: Store, cfg: SelectConfig, seed: int) -> dict:
    clusters = store.read("clusters").to_pandas().set_index("arch_index")
    stats = store.read("stats", columns=["arch_index", *cfg.statistics]).to_pandas().set_index("arch_index")
    ranks = oriented_ranks(stats, cfg.statistics)
    scores = score_clusters(ranks, clusters["cluster"], cfg.scoring, cfg.quantile, cfg.min_cluster_size,
                            bootstrap=cfg.bootstrap, seed=seed)
    sizes = clusters["cluster"].value_counts()
    scores["size"] = scores["cluster"].map(sizes).astype("int64")
    best = best_cluster(scores)
    scores["selected"] = scores["cluster"] == best
    store.write_stage("scores", pa.Table.from_pandas(scores, preserve_index=False))
    chosen = clusters[clusters["cluster"] == best].reset_index().sort_values("arch_index")
    store.write_stage("selection", pa.Table.from_pandas(
        chosen[["arch_str", "arch_index", "canonical_index", "cluster"]], preserve_index=False))
    return {"cluster": best, "rows": len(chosen), "scored_archs": len(stats),
            "score": float(scores.loc[scores["selected"], "score"].iloc[0])}

