"""Connecting to Ray and sizing the statistics actor pool."""
from __future__ import annotations

import importlib
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata

import ray
from tqdm import tqdm

from cbred_ray.config import ResourcesConfig
from cbred_ray.log import quiet, silence_ray
from cbred_ray.stopping import kept_signal_handlers


def init_ray() -> bool:
    """Join the cluster named by RAY_ADDRESS (as ``ray job submit`` sets it), or start an embedded one;
    True when this call connected (the caller then shuts Ray down when it is done), False when Ray was
    already initialised (by the user, a notebook, a test).

    Under ``cbred --quiet`` (:func:`cbred_ray.log.quiet`) Ray logs only errors and the workers'
    output is not forwarded to the driver."""
    if ray.is_initialized():
        return False
    silent = quiet()
    level = logging.ERROR if silent else logging.WARNING
    address = os.environ.get("RAY_ADDRESS")
    with kept_signal_handlers():
        if address:
            ray.init(address=address, logging_level=level, log_to_driver=not silent)
        else:
            ray.init(include_dashboard=False, logging_level=level, configure_logging=True, log_to_driver=not silent)
    if silent:
        importlib.import_module("ray.data")  # it sets up its own logging on import: silenced after
        silence_ray()
    return True


@contextmanager
def ray_session() -> Iterator[None]:
    """Ray for the duration of a command: joined or started (:func:`init_ray`), and shut down after
    only when it was started here."""
    started = init_ray()
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def ship_space(space: object) -> None:
    """Make the workers receive ``space``'s class by value when they could not import it: a class defined
    in a notebook or a script (``__main__``: cloudpickle already sends it by value) or in a module that is
    neither this package nor an installed distribution (a test module, a file beside a notebook). Classes
    of installed packages travel by reference, as usual; a space spread over several local modules needs
    them on the workers (``runtime_env={"py_modules": [...]}``)."""
    module_name = type(space).__module__
    top = module_name.partition(".")[0]
    if module_name == "__main__" or top == "cbred_ray" or top in metadata.packages_distributions():
        return
    module = sys.modules.get(module_name)
    if module is not None:
        ray.cloudpickle.register_pickle_by_value(module)


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
