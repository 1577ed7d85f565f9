"""Ray actors that hold the feature shards of a store in memory, for the clustering passes.

The shards of ``graphs/`` are dealt out to a pool of holders (one per CPU of the cluster by
default); each loads its shards once, as :class:`~cbred_ray.cluster.kmeans_parallel.Points`
(distinct feature rows and the rows that repeat them), and runs each step of a clustering
over all of them, returning one exact sum (or the rows drawn). Every per-row decision is a
pure function of the row, so the results do not depend on which holder has which shard. For a space
that deduplicates by a graph key (a space defined by a builder), the holders also give the smallest
architecture of each key they hold, and take back the run's, so that each key keeps one representative
whichever shards hold it; the costs the graphs stage measured are written as they are. A holder lost with
its node is replaced by one that loads the same shards from the store (:class:`Holders`).

A holder asks Ray for no CPU and holders are spread over the nodes: they hold rows between short passes
rather than run for the whole stage, and a cluster that has lost nodes (or whose only node keeps no CPU for
tasks, as a KubeRay head often does) can always place them, so the stage never waits for room.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.cluster import kmeans_parallel as kp
from cbred_ray.log import log
from cbred_ray.pipeline.graphs_stage import GRAPH_KEY, key_firsts, representatives
from cbred_ray.pipeline.losses import LOST, RETRIES, reason
from cbred_ray.select.constraints import rows_within
from cbred_ray.store import Store

SAMPLE_STREAM = 1_000_003
"""Random stream of the per-row draws that pick a fit sample (apart from k-means|| rounds)."""


@ray.remote(num_cpus=0, scheduling_strategy="SPREAD")
class ShardHolder:
    """Holds some feature shards (canonical ids and :class:`~kp.Points`) and runs each step over them."""

    def __init__(self) -> None:
        self.shards: dict[int, tuple[np.ndarray, kp.Points]] = {}
        self.extra: dict[int, dict[str, np.ndarray]] = {}  # per shard: graph keys and measured costs, if stored

    def load(self, root: str, numbers: list[int], feature: str, extra: tuple[str, ...] = (),
             budget: tuple[float | None, float | None] | None = None) -> int:
        """Load graphs shards ``numbers``; with ``budget`` (max_params, max_macs), only their rows within it."""
        for n in numbers:
            table = Store(root).read_shard("graphs", n, ["arch_index", "canonical_index", feature, *extra])
            if budget is not None:
                table = table.filter(pa.array(rows_within(table, budget)))
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

    def write(self, root: str, assign: Callable[[np.ndarray], np.ndarray], k: int,
              budget: tuple[float | None, float | None] | None = None) -> np.ndarray:
        """Write ``clusters/``: each row's cluster is ``assign`` of its features (computed once per distinct
        row), with the costs of its network; with ``budget``, only the rows within it. Returns the rows
        written per cluster (length ``k``)."""
        sizes = np.zeros(k, np.int64)
        for n, (canonical, points) in self.shards.items():
            cluster = np.asarray(assign(points.values))[points.inverse]
            table = pa.table({
                "arch_index": pa.array(points.ids, pa.int64()), "canonical_index": pa.array(canonical, pa.int64()),
                "cluster": pa.array(cluster, pa.int32()), "arch_params": pa.array(self.extra[n]["arch_params"]),
                "arch_macs": pa.array(self.extra[n]["arch_macs"])})
            if budget is not None:
                table = table.filter(pa.array(rows_within(table, budget)))
            Store(root).write_shard("clusters", n, table)
            sizes += np.bincount(table.column("cluster").to_numpy(), minlength=k)
        return sizes


def default_holders() -> int:
    """One holder per CPU of the cluster."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


class Holders:
    """The holder actors of one clustering, each with the graphs shards it was dealt, called step by step.

    :meth:`each` calls one method on every holder and returns their answers in holder order. A holder lost
    on the way (its node gone, its process killed) is replaced: a new holder loads the same shards from the
    store (and takes the run's graph-key representatives again), and the call is made again on it, at most
    :data:`~cbred_ray.pipeline.losses.RETRIES` times per holder; every step is a pure function of the rows,
    so the answer is the one the lost holder would have given. Holders given as actors only (loaded with
    ``put``) cannot be reloaded: their loss ends the run.
    """

    def __init__(self, actors: list, parts: list[list[int]] | None = None, load: tuple = ()):
        self.actors, self.parts, self.load = list(actors), parts, load
        self.firsts = None  # the run's (key, representative) pairs, once set
        self.lost = 0

    @classmethod
    def from_store(cls, store: Store, feature: str, count: int | None = None,
                   budget: tuple[float | None, float | None] | None = None) -> Holders:
        """Holders loaded with every graphs shard of the store (with ``budget``, only the rows within it),
        dealt out in turn; where the graphs carry a deduplication key, every architecture's canonical index
        is its key's representative over the run."""
        numbers = sorted(store.shard_files("graphs"))
        extra = (GRAPH_KEY,) * (GRAPH_KEY in store.columns("graphs")) + ("arch_params", "arch_macs")
        size = min(count or default_holders(), len(numbers))
        holders = cls([None] * size, [numbers[i::size] for i in range(size)],
                      (str(store.root), feature, extra, budget))
        for i in range(size):
            holders._start(i)
        holders.each("count")
        if GRAPH_KEY in extra:
            parts = holders.each("key_firsts")
            ids, keys = np.concatenate([p[1] for p in parts]), np.concatenate([p[0] for p in parts])
            holders.firsts = ray.put(key_firsts(ids, keys))
            holders.each("represent", holders.firsts)
        return holders

    def _start(self, i: int) -> None:
        """A new holder ``i``, loading its shards (and the representatives, once known): its calls queue
        behind the loading."""
        actor = ShardHolder.remote()
        actor.load.remote(self.load[0], self.parts[i], *self.load[1:])
        if self.firsts is not None:
            actor.represent.remote(self.firsts)
        self.actors[i] = actor

    def each(self, method: str, *args) -> list:
        calls = {getattr(actor, method).remote(*args): i for i, actor in enumerate(self.actors)}
        answers, tries = [None] * len(self.actors), Counter()
        while calls:
            ready, _ = ray.wait(list(calls), num_returns=1)
            i = calls.pop(ready[0])
            try:
                answers[i] = ray.get(ready[0])
            except LOST as err:
                if self.parts is None:
                    raise
                tries[i] += 1
                self.lost += 1
                log.warning("clusters: lost the holder of graphs shards %s during %s (%s); reloading them from the "
                            "store into another (retry %d of %d)", _shards_text(self.parts[i]), method, reason(err),
                            tries[i], RETRIES)
                if tries[i] > RETRIES:
                    raise RuntimeError(f"clusters: the holder of graphs shards {_shards_text(self.parts[i])} was "
                                       f"lost {tries[i]} times") from err
                ray.kill(self.actors[i])
                self._start(i)
                calls[getattr(self.actors[i], method).remote(*args)] = i
        return answers

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor)

    def __len__(self) -> int:
        return len(self.actors)


def _shards_text(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers[:5])) + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")


def write_clusters(store: Store, holders: Holders, assign: Callable[[np.ndarray], np.ndarray], k: int,
                   budget: tuple[float | None, float | None] | None = None) -> np.ndarray:
    """Every row's cluster (of ``k``) and network costs into ``clusters/`` (with ``budget``, the rows within
    it), one shard per graphs shard; returns the cluster sizes."""
    return sum(holders.each("write", str(store.root), assign, k, budget))
