"""Selection stage (driver): score clusters from the stored statistics, keep the best (or the best until
they hold a share of the space).

Under successive halving the halving is replayed over the stored statistics (the rounds ask
for exactly what the stats stage computed), so the selection is a function of the store.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from cbred_ray.config import SelectConfig
from cbred_ray.errors import BadInput
from cbred_ray.select.constraints import budget_mask, stored_costs
from cbred_ray.select.halving import halve_clusters, halving_scores
from cbred_ray.select.reduction import reduce_space
from cbred_ray.select.region import Region, fit_region
from cbred_ray.select.scoring import near_ties, oriented_ranks
from cbred_ray.select.settings import Selection
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store


def clusters_to_select_from(store: Store, cfg: SelectConfig) -> pd.DataFrame:
    """The stored clusters (by arch_index) of the architectures within the hardware budget (a no-op
    when the budget came before clustering)."""
    clusters = store.read("clusters").to_pandas().set_index("arch_index").sort_index()
    return clusters[budget_mask(clusters, cfg.constraints.max_params, cfg.constraints.max_macs)]


REGION_ESTIMATE = 100_000
"""Architectures of the independent seeded sample that estimates a region's share of the space."""


def run_select_stage(store: Store, space: Space, cfg: SelectConfig, seed: int,
                     region_of: tuple[str, int] | None = None) -> dict:
    """Score the clusters and keep the best; ``region_of`` (the clustering feature and the classifier's
    classes), for a run on a sample of its space: also store the region the choice stands for."""
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
    if region_of is not None:
        kept_clusters = record.get("clusters", [best])
        record["region"] = write_region(store, space, cfg, region_of, kept_clusters, chosen, seed)
    return {"cluster": best, "rows": len(chosen), "cluster_size": int((clusters["cluster"] == best).sum()),
            "target": target, "space_size": len(clusters), "scored_archs": len(stats), "score": float(kept["score"]),
            **record}


def write_region(store: Store, space: Space, cfg: SelectConfig, region_of: tuple[str, int], kept: list[int],
                 chosen: pd.DataFrame, seed: int) -> dict:
    """Fit the region of the choice (:mod:`cbred_ray.select.region`) on the clustered sample, store its
    centroids (stage ``region``) and return what the manifest keeps of it, its estimated share included."""
    feature, num_classes = region_of
    clustered = store.read("clusters", columns=["arch_index", "cluster"]).to_pandas().set_index("arch_index")
    index, rows = store.read_matrix("graphs", feature)
    inside = np.isin(index, clustered.index)
    bounds = {f"max_{cost}": float(limit) for cost, limit in (("params", cfg.constraints.max_params),
                                                              ("macs", cfg.constraints.max_macs)) if limit is not None}
    if cfg.union_cut is not None:
        bounds[f"min_{cfg.union_cut}"] = float(chosen[f"arch_{cfg.union_cut}"].min())
    centers = store.read_manifest()["stages"]["clusters"].get("centers")
    region, agreement = fit_region(rows[inside], clustered.loc[index[inside], "cluster"].to_numpy(), tuple(kept),
                                   feature, num_classes, bounds, None if centers is None else np.asarray(centers))
    store.write_stage("region", pa.table({
        "cluster": pa.array(region.clusters, pa.int32()),
        "centroid": pa.array(list(region.centroids), pa.list_(pa.float64())),
        "kept": pa.array(np.isin(region.clusters, kept))}))
    estimate_seed = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
    return {"features": feature, "num_classes": num_classes, "kept": [int(c) for c in kept], "bounds": bounds,
            "agreement": agreement, "statistics_cut": cfg.top_fraction is not None,
            "estimate": region.estimate(space, REGION_ESTIMATE, estimate_seed)}


def read_region(store: Store) -> Region:
    """The region a finished run on a sample of its space stored; BadInput when it has none."""
    record = store.read_finished(("selection",), "run it to the end first")["stages"]["selection"]
    if "region" not in record:
        raise BadInput(f"store {str(store.root)!r} has no region: its run listed its whole space (its selection "
                       "is the reduced space)")
    about, table = record["region"], store.read("region").to_pandas()
    return Region(about["features"], table["cluster"].to_numpy(np.int64), np.stack(table["centroid"].to_numpy()),
                  tuple(about["kept"]), int(about["num_classes"]), dict(about["bounds"]))
