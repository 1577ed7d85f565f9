"""The Python API: run a reduction, or open a finished one, from a script, a notebook or a Ray job.

    import cbred_ray

    result = cbred_ray.reduce("configs/nb201_cifar100.yaml", out="stores/quick", overrides=["cluster.k=8"])
    result.selection          # the kept architectures (pandas), result.selection_table (Arrow)
    result.space              # the space object; result.clusters, result.scores, result.manifest
    again = cbred_ray.open_store("stores/quick")

The command line (:mod:`cbred_ray.cli`) is a thin layer over these functions. A space may be given as
an object (``reduce(config, out, space=MySpace(...))``), a class defined in a notebook included: it
reaches the Ray workers that build its networks by value (:func:`cbred_ray.pipeline.runtime.ship_space`).
Messages go to the ``cbred`` logger, which the library gives no handler (the CLI installs one): call
``logging.basicConfig(level=logging.INFO)`` to see progress from Python.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cbred_ray.config import RunConfig, apply_overrides, config_from_dict, load_config
from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space
from cbred_ray.spaces.registry import register_space, space_class
from cbred_ray.store import RUN_STAGES, Store

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

ConfigLike = RunConfig | str | Path | dict


def as_config(config: ConfigLike, overrides: tuple[str, ...] | list[str] = (), space: Space | None = None) -> RunConfig:
    """A validated :class:`RunConfig` from a config object, a YAML path (its ``base:`` and relative paths
    resolved) or a mapping, with ``overrides`` (``section.key=value``, as ``--set``) applied; with ``space``,
    its space section describes that object."""
    if isinstance(config, (str, Path)):
        loaded = load_config(config, tuple(overrides))
        if space is None:
            return loaded
        data, overrides = loaded.model_dump(mode="json"), ()
    elif isinstance(config, RunConfig):
        data = config.model_dump(mode="json")
    elif isinstance(config, dict):
        data = dict(config)
    else:
        raise BadInput(f"a config is a RunConfig, a YAML path or a mapping, got {type(config).__name__}")
    if space is not None:
        given = data.get("space")
        data["space"] = space_section(space, given.get("sample") if isinstance(given, dict) else None)
    return config_from_dict(apply_overrides(data, tuple(overrides)), origin="config")


def space_section(space: Space, sample: int | None = None) -> dict:
    """The config's space section for a space object: the name it is registered under (registering its
    class under its ``name`` when that name is free) and its parameters."""
    if not isinstance(space, Space):
        raise BadInput(f"space must be a cbred_ray.spaces.Space, got {type(space).__name__}")
    try:
        known = space_class(space.name)
    except BadInput:
        known = None
    redefined = known is not None and (known.__module__, known.__qualname__) == (type(space).__module__,
                                                                             type(space).__qualname__)
    if known is None or redefined:  # a class defined again (a notebook cell run twice) replaces itself
        register_space(space.name)(type(space))
    elif known is not type(space):
        raise BadInput(f"space name {space.name!r} is registered to {known.__module__}:{known.__qualname__}, not to "
                       f"{type(space).__module__}:{type(space).__qualname__}: give the space another name")
    return {"name": space.name, **space.Params.model_validate(space.params()).model_dump(mode="json"),
            "sample": sample}


@dataclass(frozen=True)
class ReductionResult:
    """A finished reduction: its store, config, space and manifest, and its stages as tables."""

    store: Path
    config: RunConfig
    space: Space
    manifest: dict = field(repr=False)

    @cached_property
    def selection_table(self) -> pa.Table:
        """The kept architectures (identifier, ``arch_index``, ``canonical_index``, ``cluster``), as Arrow."""
        return Store(self.store).read("selection")

    @property
    def selection(self) -> pd.DataFrame:
        """The kept architectures, as pandas."""
        return self.selection_table.to_pandas()

    @property
    def ids(self) -> list[str]:
        """The identifiers of the kept architectures."""
        return self.selection_table.column(self.space.id_column).to_pylist()

    @cached_property
    def clusters(self) -> pd.DataFrame:
        """Every clustered architecture's cluster (and costs), indexed by ``arch_index``."""
        return Store(self.store).read("clusters").to_pandas().set_index("arch_index").sort_index()

    @cached_property
    def scores(self) -> pd.DataFrame:
        """Each cluster's score, interval and size; ``selected`` marks the kept one (or the kept union)."""
        return Store(self.store).read("scores").to_pandas()

    @cached_property
    def stats(self) -> pd.DataFrame:
        """The statistics the run computed, indexed by ``arch_index``."""
        return Store(self.store).read("stats").to_pandas().set_index("arch_index").sort_index()

    @property
    def cluster(self) -> int:
        """The kept cluster."""
        return int(self.manifest["stages"]["selection"]["cluster"])

    # -- the reduced space, listed or a region ------------------------------------------------------
    @property
    def sampled(self) -> bool:
        """Whether the run clustered a sample of its space: its reduced space is then a region, a rule over the
        whole space (:mod:`cbred_ray.select.region`), and not only the sampled architectures it selected."""
        return "region" in self.manifest.get("stages", {}).get("selection", {})

    @cached_property
    def region(self):
        """The region of a run on a sample of its space (:class:`cbred_ray.select.region.Region`)."""
        from cbred_ray.pipeline.select_stage import read_region

        return read_region(Store(self.store))

    @cached_property
    def reduced_space(self):
        """The reduced space as a search runs in it (:class:`cbred_ray.search.ReducedSpace`): the region of a run
        on a sample of its space, the selection of one that listed it."""
        from cbred_ray.search.space import ReducedSpace

        if self.sampled:
            return ReducedSpace(self.space, region=self.region, label="C-BRED")
        return ReducedSpace(self.space, members=self.selection_table.column("arch_index").to_numpy(), label="C-BRED")

    def contains(self, ids: list[str]):
        """For each identifier, whether its architecture is in the reduced space (a boolean array): the region's
        rule for a sampled run, the selection for a run that listed its space."""
        return self.reduced_space.contains(ids)

    def sample(self, n: int, seed: int = 0) -> list[str]:
        """``n`` distinct identifiers of the reduced space, drawn uniformly with ``seed`` (each checked to belong)."""
        return self.reduced_space.sample(n, seed)

    def sample_indices(self, n: int, seed: int = 0):
        """(indices, candidates drawn): :meth:`sample`'s architectures as indices, and how many candidates of the
        whole space were drawn to find them (``n`` for a listed reduced space; a region is drawn by rejection)."""
        return self.reduced_space.sample_indices(n, seed)

    def estimated_size(self) -> dict:
        """How many architectures the reduced space holds: for a region, the share of an independent seeded
        uniform sample of the space inside it, with a 95 % (Wilson) interval; for a listed one, exactly."""
        record = self.manifest["stages"]["selection"]
        if self.sampled:
            return {**record["region"]["estimate"], "exact": False, "space_size": self.space.size}
        rows = int(record["rows"])
        size = int(self.manifest["space"]["architectures"])
        return {"architectures": rows, "share": rows / size, "exact": True, "space_size": size}


def reduce(config: ConfigLike, out: str | Path, overrides: tuple[str, ...] | list[str] = (),
           space: Space | None = None, progress: bool = True) -> ReductionResult:
    """Run a reduction into the store ``out`` (resumed when the same config made it) and return it.

    ``config``: a :class:`RunConfig`, a YAML path or a mapping (``{"space": {"name": "cell", "nodes": 5},
    ...}``); ``overrides``: ``section.key=value`` strings, as ``cbred run --set``; ``space``: the space as an
    object (its class need not be importable by the workers). Joins the Ray cluster of ``RAY_ADDRESS`` or an
    already initialised Ray, or starts an embedded one, which it shuts down when it is done.
    """
    from cbred_ray.pipeline.run import run_reduction

    run_config = as_config(config, overrides, space)
    manifest = run_reduction(run_config, str(out), progress=progress, overrides=tuple(overrides), space=space)
    return ReductionResult(Path(out), run_config, space or run_config.space.space(), manifest)


def open_store(path: str | Path, space: Space | None = None) -> ReductionResult:
    """A finished reduction's store, as :func:`reduce` returns it. ``space``: the space object, for a store
    made with a space whose class cannot be imported here (defined in another notebook, say)."""
    store = Store(path)
    manifest = store.read_manifest()
    if manifest.get("kind") != "run":
        raise BadInput(f"store {str(path)!r} holds a {manifest.get('kind')!r} run, not a reduction (cbred run)")
    if space is not None:
        space_section(space)
    config = config_from_dict(manifest["config"], origin=f"store {str(path)!r}")
    manifest = store.read_finished(RUN_STAGES)
    return ReductionResult(Path(path), config, space or config.space.space(), manifest)
