"""The statistics actor: holds the input batches and scores shards of architectures.

Each actor (one per GPU, or per CPU) builds its input batch once and then scores the shards it is
given: one computation per canonical architecture, fanned out to every requested architecture
equivalent to it, and writes each shard straight into the store (:mod:`~cbred_ray.pipeline.stats_stage`
drives the actors).
"""
from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
import ray

from cbred_ray.config import StatsConfig
from cbred_ray.spaces.base import Space
from cbred_ray.stats.data import load_batch
from cbred_ray.stats.engine import OOM_NOTE, compute_stats, summarise_repeats
from cbred_ray.store import Store


def stats_table(
    space: Space, arch_index: np.ndarray, canonical_index: np.ndarray, results: dict[int, dict],
    names: tuple[str, ...], with_spread: bool,
) -> pa.Table:
    """Rows for the requested architectures from the (mean, spread, reason) of their canonical cells."""
    rows = [results[int(c)] for c in canonical_index]
    columns: dict[str, pa.Array] = {
        "arch_index": pa.array(arch_index, pa.int64()),
        space.id_column: pa.array(space.format_ids(arch_index), pa.string()),
        "canonical_index": pa.array(canonical_index, pa.int64()),
    }
    for name in names:
        columns[name] = pa.array([row[name][0] for row in rows], pa.float64())
        if with_spread:
            columns[f"{name}_std"] = pa.array([row[name][1] for row in rows], pa.float64())
    reasons = [[f"{n}: {row[n][2]}" for n in names if row[n][2]] for row in rows]
    columns["error"] = pa.array(["; ".join(r) or None for r in reasons], pa.string())
    return pa.table(columns)


class StatsWorker:
    """Holds the input batches (one per repeat) and scores shards of architectures with them.

    Repeat ``r`` uses ``seeds[r]`` (the run's, :meth:`~cbred_ray.seeds.RunSeeds.stats`) for both the
    network's initialisation and the batch.
    An actor assigned a GPU that torch cannot see (a CPU build of torch, no driver) computes on
    the CPU and says so in ``describe()``, with the node and GPU ids Ray gave it.
    """

    def __init__(self, space: Space, cfg: StatsConfig, seeds: list[int], store_root: str, use_gpu: bool,
                 torch_threads: int = 1):
        import torch

        torch.set_num_threads(torch_threads)
        self.space, self.cfg, self.seeds, self.store = space, cfg, list(seeds), Store(store_root)
        context = ray.get_runtime_context()
        self.node_id, self.gpu_ids = context.get_node_id(), list(ray.get_gpu_ids())
        self.warning = None
        if use_gpu and not torch.cuda.is_available():
            # a node that advertises GPUs to Ray but whose torch sees none (a CPU build, no driver)
            self.warning = (f"assigned a GPU by Ray, but torch {torch.__version__} where they run sees no CUDA device "
                            "(torch.cuda.is_available() is False): computing on the CPU instead")
            use_gpu = False
        self.device = "cuda" if use_gpu else "cpu"  # Ray pins the actor's GPU via CUDA_VISIBLE_DEVICES
        self.batches, self.batch_descriptions = [], []
        for seed in self.seeds:
            batch, labels, description = load_batch(cfg.data.source, cfg.data.batch_size, seed, cfg.data.augment)
            self.batches.append((batch.to(self.device), labels))
            self.batch_descriptions.append(description)

    def describe(self) -> dict:
        batch = self.batch_descriptions[0] if self.cfg.repeats == 1 else self.batch_descriptions
        return {"device": self.device, "batch": batch, "node_id": self.node_id, "gpu_ids": self.gpu_ids,
                "warning": self.warning}

    def score_shard(self, shard: int, arch_index: np.ndarray, canonical_index: np.ndarray) -> dict:
        started = time.perf_counter()
        results = {}
        for canon in np.unique(canonical_index):
            networks = self.space.networks(int(canon), self.cfg.width)
            runs = [
                compute_stats(networks, self.cfg.names, batch, seed, num_classes=self.cfg.num_classes,
                              device=self.device, options=self.cfg.options, labels=labels)
                for seed, (batch, labels) in zip(self.seeds, self.batches)
            ]
            results[int(canon)] = summarise_repeats(runs, self.cfg.names)
        table = stats_table(self.space, arch_index, canonical_index, results, self.cfg.names, self.cfg.repeats > 1)
        self.store.write_shard("stats", shard, table)
        short = sum(any(reason and OOM_NOTE in reason for _, _, reason in summary.values())
                    for summary in results.values())  # cells with a statistic that ran out of memory
        return {"shard": shard, "rows": table.num_rows, "computed": len(results), "out_of_memory": short,
                "seconds": time.perf_counter() - started, "gpu_peak_bytes": self._gpu_peak_bytes(),
                "node_id": self.node_id}

    def _gpu_peak_bytes(self) -> int | None:
        """The most GPU memory this actor's tensors have held so far (None on CPU)."""
        import torch

        return int(torch.cuda.max_memory_allocated()) if self.device == "cuda" else None
