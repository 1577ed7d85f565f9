"""Run configuration: one validated object per run, echoed into the manifest.

The YAML is validated at the edge (unknown keys, wrong types and out-of-range
values are refused with a one-line :class:`BadInput`); inside the library the
config is a frozen pydantic model. Its hash identifies the run in the store.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cbred_ray.errors import BadInput
from cbred_ray.stats.data import BUILTIN_SOURCES


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpaceConfig(_Strict):
    name: Literal["nb201"] = "nb201"


class GraphsConfig(_Strict):
    shard_size: int = Field(1000, ge=1, le=10_000_000, description="architectures per graphs shard")


class DataConfig(_Strict):
    """The input batch of the data-dependent statistics.

    ``source``: null for a seeded synthetic batch, ``cifar100-sample25`` for the 25 real
    CIFAR-100 images shipped with the package, a path to an ``.npz`` with an ``images``
    array, or to torchvision's ``cifar-100-python`` folder. Relative paths are read
    relative to the config file.
    """

    source: str | None = "cifar100-sample25"
    batch_size: int = Field(128, ge=2, le=4096)
    augment: bool = True


class StatsConfig(_Strict):
    names: tuple[str, ...] = ("naswot_v2", "logsynflow", "params", "macs")
    num_classes: int = Field(100, ge=1)
    data: DataConfig = DataConfig()
    options: dict[str, dict[str, bool | int | float | str]] = Field(
        default_factory=dict, description="per-statistic knobs, e.g. {ntk_cond: {batch_size: 32}}")
    repeats: int = Field(1, ge=1, le=100, description="seeds per architecture: stored as mean and spread")
    num_actors: int | None = Field(None, ge=1, description="null: one per GPU, or one per CPU")
    num_gpus_per_actor: float | Literal["auto"] = "auto"
    torch_threads: int = Field(1, ge=1)
    shard_size: int = Field(25, ge=1, le=1_000_000, description="distinct cells per stats shard")

    @field_validator("names")
    @classmethod
    def _known(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        from cbred_ray.stats.registry import STATISTICS

        for name in names:
            if name not in STATISTICS:
                raise ValueError(f"unknown statistic {name!r} (known: {', '.join(STATISTICS)})")
        if not names:
            raise ValueError("at least one statistic is needed")
        return names

    @model_validator(mode="after")
    def _options_match_statistics(self) -> StatsConfig:
        from cbred_ray.stats.engine import validate_options

        validate_options(self.names, self.options)
        return self

    @field_validator("num_gpus_per_actor")
    @classmethod
    def _gpus(cls, value: float | str) -> float | str:
        if value != "auto" and not 0 <= float(value) <= 8:
            raise ValueError(f"num_gpus_per_actor must be 'auto' or in [0, 8], got {value!r}")
        return value


class ClusterConfig(_Strict):
    method: Literal["kmeans"] = "kmeans"
    features: Literal["op_usage"] = "op_usage"
    k: int = Field(16, ge=2, le=10_000)
    n_init: int = Field(10, ge=1)


class QuickConfig(_Strict):
    """Quick mode: score each cluster from a seeded sample of its members."""

    enabled: bool = False
    sample_per_cluster: int = Field(24, ge=2)


class SelectConfig(_Strict):
    statistics: tuple[str, ...] = ("naswot_v2", "logsynflow")
    scoring: Literal["median_rank", "mean_rank", "quantile_rank"] = "median_rank"
    quantile: float = Field(0.5, gt=0.0, lt=1.0)
    min_cluster_size: int = Field(1, ge=1)
    bootstrap: int = Field(200, ge=0, le=100_000, description="resamplings of each cluster's members for the "
                           "95 % interval of its score (0: none)")
    quick: QuickConfig = QuickConfig()


class RunConfig(_Strict):
    name: str = "run"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    space: SpaceConfig = SpaceConfig()
    graphs: GraphsConfig = GraphsConfig()
    stats: StatsConfig = StatsConfig()
    cluster: ClusterConfig = ClusterConfig()
    select: SelectConfig = SelectConfig()

    @field_validator("select")
    @classmethod
    def _select_uses_quality_stats(cls, select: SelectConfig) -> SelectConfig:
        from cbred_ray.stats.registry import STATISTICS

        for name in select.statistics:
            if name not in STATISTICS:
                raise ValueError(f"unknown statistic {name!r} (known: {', '.join(STATISTICS)})")
        return select

    @model_validator(mode="after")
    def _scored_stats_are_computed(self) -> RunConfig:
        missing = [s for s in self.select.statistics if s not in self.stats.names]
        if missing:
            raise ValueError(f"select.statistics {missing[0]!r} is not computed: add it to stats.names")
        return self

    def hash(self) -> str:
        """Stable hash of everything that determines the run's results."""
        return config_hash(self.model_dump(mode="json"))


def config_hash(config: dict) -> str:
    """A short, key-order independent hash of a JSON-able config."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]


def one_line(err: ValidationError, origin: str) -> str:
    """The first validation error as one line naming the key and the bad value."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown config key {where!r}"
    value = first.get("input")
    return f"{origin}: bad value for {where!r}: {value!r} ({first['msg']})"


def config_from_dict(data: dict, origin: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise BadInput(f"{origin}: a config must be a mapping, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise BadInput(one_line(err, origin)) from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML config; relative data paths resolve against its folder."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"config file not found: {str(path)!r}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise BadInput(f"config {str(path)!r} is not valid YAML: {str(err).splitlines()[0]}") from None
    source = (data.get("stats") or {}).get("data", {}).get("source") if isinstance(data, dict) else None
    if isinstance(source, str) and source not in BUILTIN_SOURCES and not Path(source).is_absolute():
        data["stats"]["data"]["source"] = str((path.parent / source).resolve())
    return config_from_dict(data, origin=str(path))
