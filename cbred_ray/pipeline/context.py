"""The one context a run's stages are given: the store, the space, the settings and the seeds.

The driver (:mod:`cbred_ray.pipeline.run`) builds it once, after every check, and
:class:`~cbred_ray.pipeline.manifest.Stages` hands each stage its own copy with ``publish`` set: the
callable that rewrites the manifest as the stage's shards finish. A stage reads what it needs from here and
nothing from module state.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa

from cbred_ray.config import ResourcesConfig, RunConfig, StatsConfig
from cbred_ray.seeds import RunSeeds
from cbred_ray.spaces.base import Space
from cbred_ray.store import Store


@dataclass(frozen=True)
class RunContext:
    """What every stage reads. ``run`` is the whole config of a reduction (None for ``cbred stats``, which
    runs the statistics stage alone, on the ``stats`` settings given); ``drawn``, the sorted indices of a
    run on a sample of its space (None: the whole space); ``precomputed``, statistics read from a file
    instead of computed; ``publish``, set per stage (:meth:`for_stage`)."""

    store: Store
    space: Space
    stats: StatsConfig
    seeds: RunSeeds
    resources: ResourcesConfig
    progress: bool = True
    run: RunConfig | None = None
    drawn: np.ndarray | None = None
    precomputed: pa.Table | None = None
    publish: Callable[[dict], None] | None = None

    @classmethod
    def of_run(cls, config: RunConfig, store: Store, space: Space, progress: bool, drawn: np.ndarray | None = None,
               precomputed: pa.Table | None = None) -> RunContext:
        return cls(store, space, config.stats, RunSeeds(config.seed), config.resources, progress, config, drawn,
                   precomputed)

    @property
    def config(self) -> RunConfig:
        """The reduction's config; a stage of a reduction only (``cbred stats`` has none)."""
        if self.run is None:
            raise RuntimeError("this stage belongs to a reduction: the context has no run config")
        return self.run

    def for_stage(self, publish: Callable[[dict], None]) -> RunContext:
        return replace(self, publish=publish)
