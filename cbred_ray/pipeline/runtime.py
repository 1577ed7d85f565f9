"""Connecting to Ray and sizing the statistics actor pool."""
from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass

import ray
from tqdm import tqdm

from cbred_ray.config import ResourcesConfig
from cbred_ray.log import quiet, silence_ray


def init_ray() -> None:
    """Join the cluster named by RAY_ADDRESS (as ``ray job submit`` sets it), or start an embedded one.

    Under ``cbred --quiet`` (:func:`cbred_ray.log.quiet`) Ray logs only errors and the workers'
    output is not forwarded to the driver."""
    if ray.is_initialized():
        return
    silent = quiet()
    level = logging.ERROR if silent else logging.WARNING
    address = os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=level, log_to_driver=not silent)
    else:
        ray.init(include_dashboard=False, logging_level=level, configure_logging=True, log_to_driver=not silent)
    if silent:
        importlib.import_module("ray.data")  # it sets up its own logging on import: silenced after
        silence_ray()


@dataclass(frozen=True)
class ActorPlan:
    num_actors: int
    num_gpus: float
    num_cpus: float


def plan_actors(cfg: ResourcesConfig, resources: dict[str, float] | None = None) -> ActorPlan:
    """One actor per GPU (or per 1/num_gpus share of one) when the cluster has GPUs, else one per CPU."""
    resources = ray.cluster_resources() if resources is None else resources
    gpus, cpus = resources.get("GPU", 0.0), resources.get("CPU", 1.0)
    per_actor = (1.0 if gpus > 0 else 0.0) if cfg.num_gpus_per_actor == "auto" else float(cfg.num_gpus_per_actor)
    if per_actor > 0:
        default = max(1, int(gpus // per_actor))
        return ActorPlan(cfg.num_actors or default, per_actor, 1.0)
    return ActorPlan(cfg.num_actors or max(1, int(cpus // cfg.torch_threads)), 0.0, float(cfg.torch_threads))


def shard_progress(stage: str, total: int, done: int, enabled: bool) -> tqdm:
    """A progress bar over a stage's shards, on stderr, starting at the reused ones."""
    return tqdm(total=total, initial=done, desc=f"{stage} shards", unit="shard", disable=not enabled, file=sys.stderr)
