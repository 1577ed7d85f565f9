"""Selection stage (driver): the reduced space, written alike for every run.

The choice is made here from the stored statistics (the best cluster, or the best until they hold a
share of the space), or, under successive halving, it is the halving stage's (the scores it stored and
the cluster its record names): either way this stage writes the selection, the clusters' scores and,
for a run on a sample of its space, the region the choice stands for.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from cbred_ray.config import SelectConfig
from cbred_ray.errors import BadInput
from cbred_ray.pipeline.context import RunContext
from cbred_ray.select.constraints import stored_costs
from cbred_ray.select.reduction import reduce_space
from cbred_ray.select.region import Region, fit_region
from cbred_ray.select.scoring import near_ties, oriented_ranks
from cbred_ray.select.settings import Selection
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store


def clusters_to_select_from(store: Store) -> pd.DataFrame:
    """The stored clusters, by arch_index: the run's architectures within its hardware budget (the cluster
    stage applied it)."""
    return store.read("clusters").to_pandas().set_index("arch_index").sort_index()


REGION_ESTIMATE = 100_000
"""Architectures of the independent seeded sample that estimates a region's share of the space."""


def run_select_stage(ctx: RunContext) -> dict:
    """Write the reduced space of the run: its selection, the clusters' scores and, for a run on a sample of
    its space, its region."""
    store, space, cfg = ctx.store, ctx.space, ctx.config.select
    clusters = clusters_to_select_from(store)
    record = {}
    if cfg.halving.enabled:  # chosen by the halving stage, with its statistics
        choice = store.read_manifest()["stages"]["stats"]["halving"]
        scores, best, target, scored = store.read("scores").to_pandas(), choice["cluster"], None, choice["measured"]
        selected = clusters.index[clusters["cluster"].to_numpy() == best]
        record["rounds"] = len(choice["rounds"])
    else:
        stats = store.read("stats", columns=["arch_index", *cfg.statistics]).to_pandas().set_index("arch_index")
        stats = stats.loc[stats.index.intersection(clusters.index)]
        reduction = reduce_space(oriented_ranks(stats, cfg.statistics), clusters["cluster"], Selection.of(cfg),
                                 len(clusters), ctx.seeds.of("selection"), stored_costs(clusters))
        scores, best, selected, target = reduction.scores, reduction.cluster, reduction.selected, reduction.target
        scored = len(stats)
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
    if ctx.drawn is not None:
        region_of = (ctx.config.cluster.features, ctx.stats.num_classes)
        record["region"] = write_region(store, space, cfg, region_of, record.get("clusters", [best]), chosen,
                                        ctx.seeds.of("region"))
    return {"cluster": best, "rows": len(chosen), "cluster_size": int((clusters["cluster"] == best).sum()),
            "target": target, "space_size": len(clusters), "scored_archs": scored, "score": float(kept["score"]),
            **record}


def write_region(store: Store, space: Space, cfg: SelectConfig, region_of: tuple[str, int], kept: list[int],
                 chosen: pd.DataFrame, seed: int) -> dict:
    """Fit the region of the choice (:mod:`cbred_ray.select.region`) on the clustered sample, store its
    centroids (stage ``region``) and return what the manifest keeps of it, its estimated share included (on
    an independent sample drawn with ``seed``)."""
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
    return {"features": feature, "num_classes": num_classes, "kept": [int(c) for c in kept], "bounds": bounds,
            "agreement": agreement, "statistics_cut": cfg.top_fraction is not None,
            "estimate": region.estimate(space, REGION_ESTIMATE, seed)}


def read_region(store: Store) -> Region:
    """The region a finished run on a sample of its space stored; BadInput when it has none."""
    record = store.read_finished(("selection",), "run it to the end first")["stages"]["selection"]
    if "region" not in record:
        raise BadInput(f"store {str(store.root)!r} has no region: its run listed its whole space (its selection "
                       "is the reduced space)")
    about, table = record["region"], store.read("region").to_pandas()
    return Region(about["features"], table["cluster"].to_numpy(np.int64), np.stack(table["centroid"].to_numpy()),
                  tuple(about["kept"]), int(about["num_classes"]), dict(about["bounds"]))
