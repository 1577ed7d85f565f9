"""Ray actors that hold the feature shards of a store in memory, for the clustering passes.

The shards of ``graphs/`` are dealt out to a pool of holders (one per CPU of the cluster by
default); each loads its shards once, as :class:`~cbred_ray.cluster.kmeans_parallel.Points`
(distinct feature rows and the rows that repeat them), and runs each step of a clustering
over all of them, returning one exact sum (or the rows drawn). Every per-row decision is a
pure function of the row, so the results do not depend on which holder has which shard. For a space
that deduplicates by a graph key (a space defined by a builder), the holders also give the smallest
architecture of each key they hold, and take back the run's, so that each key keeps one representative
whichever shards hold it; the costs the graphs stage measured are written as they are.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.cluster import kmeans_parallel as kp
from cbred_ray.pipeline.graphs_stage import GRAPH_KEY, key_firsts, representatives
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store

SAMPLE_STREAM = 1_000_003
"""Random stream of the per-row draws that pick a fit sample (apart from k-means|| rounds)."""


@ray.remote(num_cpus=1)
class ShardHolder:
    """Holds some feature shards (canonical ids and :class:`~kp.Points`) and runs each step over them."""

    def __init__(self) -> None:
        self.shards: dict[int, tuple[np.ndarray, kp.Points]] = {}
        self.extra: dict[int, dict[str, np.ndarray]] = {}  # per shard: graph keys and measured costs, if stored

    def load(self, root: str, numbers: list[int], feature: str, extra: tuple[str, ...] = ()) -> int:
        for n in numbers:
            table = Store(root).read_shard("graphs", n, ["arch_index", "canonical_index", feature, *extra])
            features = table.column(feature).combine_chunks().flatten().to_numpy().reshape(len(table), -1)
            self.shards[n] = (table.column("canonical_index").to_numpy(),
                              kp.Points.of(table.column("arch_index").to_numpy(), features))
            self.extra[n] = {name: table.column(name).to_numpy() for name in extra}
        return sum(len(p.ids) for _, p in self.shards.values())

    def key_firsts(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct graph keys, the smallest architecture holding each) over this holder's shards."""
        ids = np.concatenate([p.ids for _, p in self.shards.values()])
        return key_firsts(ids, np.concatenate([self.extra[n][GRAPH_KEY] for n in self.shards]))

    def represent(self, firsts: tuple[np.ndarray, np.ndarray]) -> None:
        """Each architecture's canonical index becomes its key's representative over the run (``firsts``)."""
        for n, (_, points) in self.shards.items():
            self.shards[n] = (representatives(points.ids, self.extra[n][GRAPH_KEY], firsts), points)

    def put(self, number: int, canonical: np.ndarray, ids: np.ndarray, features: np.ndarray) -> None:
        self.shards[number] = (np.asarray(canonical), kp.Points.of(ids, features))

    def first(self, seed: int) -> tuple[float, int, np.ndarray]:
        return min((kp.first_candidate(p, seed) for _, p in self.shards.values()), key=lambda f: (f[0], f[1]))

    def cost(self, candidates: np.ndarray) -> int:
        return sum(kp.cost_of(p, candidates) for _, p in self.shards.values())

    def oversample(self, candidates, total_cost, oversampling, seed, stream) -> tuple[np.ndarray, np.ndarray]:
        drawn = [kp.oversample(p, candidates, total_cost, oversampling, seed, stream) for _, p in self.shards.values()]
        return (np.concatenate([d[0] for d in drawn]), np.vstack([d[1] for d in drawn]))

    def weights(self, candidates: np.ndarray) -> np.ndarray:
        return sum(kp.candidate_weights(p, candidates) for _, p in self.shards.values())

    def lloyd(self, centers: np.ndarray) -> kp.Partial:
        return sum((kp.lloyd_partial(p, centers) for _, p in self.shards.values()), start=kp.Partial.zero(*centers.shape))

    def count(self) -> int:
        return sum(len(p.ids) for _, p in self.shards.values())

    def sample(self, seed: int, rate: float) -> tuple[np.ndarray, np.ndarray]:
        """(ids, features) of the rows whose draw falls under ``rate``: a seeded sample of about that share."""
        drawn = []
        for _, p in self.shards.values():
            picked = np.flatnonzero(kp.row_uniforms(p.ids, seed, SAMPLE_STREAM) < rate)
            drawn.append((p.ids[picked], p.values[p.inverse[picked]]))
        return np.concatenate([d[0] for d in drawn]), np.vstack([d[1] for d in drawn])

    def write(self, root: str, assign: Callable[[np.ndarray], np.ndarray], k: int, space: Space,
              num_classes: int) -> np.ndarray:
        """Write ``clusters/``: each row's cluster is ``assign`` of its features (computed once per distinct
        row), with the costs of its network; returns the rows written per cluster (length ``k``)."""
        sizes = np.zeros(k, np.int64)
        for n, (canonical, points) in self.shards.items():
            cluster = np.asarray(assign(points.values))[points.inverse]
            measured = self.extra.get(n, {})
            params, macs = (measured["arch_params"], measured["arch_macs"]) if "arch_params" in measured else \
                space.costs(points.ids, num_classes)
            Store(root).write_shard("clusters", n, pa.table({
                "arch_index": pa.array(points.ids, pa.int64()), "canonical_index": pa.array(canonical, pa.int64()),
                "cluster": pa.array(cluster, pa.int32()), "arch_params": pa.array(params, pa.float64()),
                "arch_macs": pa.array(macs, pa.float64())}))
            sizes += np.bincount(cluster, minlength=k)
        return sizes


def default_holders() -> int:
    """One holder per CPU of the cluster."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def hold_store_shards(store: Store, feature: str, holders: int | None = None) -> list:
    """Holder actors loaded with every graphs shard of the store, dealt out in turn; where the graphs carry
    a deduplication key, every architecture's canonical index is its key's representative over the run."""
    numbers = sorted(store.shard_files("graphs"))
    stored = store.columns("graphs")
    extra = tuple(c for c in (GRAPH_KEY, "arch_params", "arch_macs") if c in stored)
    actors = [ShardHolder.remote() for _ in range(min(holders or default_holders(), len(numbers)))]
    ray.get([a.load.remote(str(store.root), numbers[i :: len(actors)], feature, extra) for i, a in enumerate(actors)])
    if GRAPH_KEY in extra:
        parts = ray.get([a.key_firsts.remote() for a in actors])
        ids, keys = np.concatenate([p[1] for p in parts]), np.concatenate([p[0] for p in parts])
        firsts = ray.put(key_firsts(ids, keys))
        ray.get([a.represent.remote(firsts) for a in actors])
    return actors


def write_clusters(store: Store, holders: list, assign: Callable[[np.ndarray], np.ndarray], k: int, space: Space,
                   num_classes: int) -> np.ndarray:
    """Every row's cluster (of ``k``) and network costs into ``clusters/``, one shard per graphs shard; returns
    the cluster sizes."""
    return sum(ray.get([h.write.remote(str(store.root), assign, k, space, num_classes) for h in holders]))
