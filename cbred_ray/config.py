"""Run configuration: one validated object per run, echoed into the manifest.

The YAML is validated at the edge (unknown keys, wrong types and out-of-range
values are refused with a one-line :class:`BadInput`); inside the library the
config is a frozen pydantic model. Its hash identifies the run in the store.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from cbred_ray.catalog import BUILTIN_SOURCES, NETWORK_OF, check_options, refused_statistics
from cbred_ray.errors import BadInput, short
from cbred_ray.spaces.base import Space
from cbred_ray.spaces.cell import KNOWN_OPS
from cbred_ray.spaces.registry import build_space, space_class

DRIVER_ENGINE_MAX = 2_000_000
"""``cluster.engine: auto`` clusters at most this many architectures on the driver, more on holder actors."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


LEGACY_SPACE_KEYS = {"nodes": 4, "ops": KNOWN_OPS, "max_vertices": 7}
"""Keys every space section carried before spaces had parameters of their own (a config or a store's
manifest of then): at these values, a space without such a parameter ignores them."""


class SpaceConfig(BaseModel):
    """The search space: ``name`` (a registered space, or ``package.module:Class``), that space's own
    parameters beside it (validated by the space's ``Params``) and ``sample``.

    ``space: {name: cell, nodes: 5}``; ``space: {name: nb101, max_vertices: 5}``; ``space: {name:
    my_package.spaces:TinySpace, depth: 3}``. A space is enumerated whole, or, with ``sample``, as a
    seeded sample of that many distinct architectures (the run's seed).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = "nb201"
    sample: int | None = Field(None, ge=1, description="architectures drawn at random; null: the whole space")
    params: dict[str, Any] = Field(default_factory=dict, description="the space's own parameters")

    @model_validator(mode="before")
    @classmethod
    def _gather_params(cls, data: Any) -> Any:
        """Every key but ``name`` and ``sample`` is a parameter of the space."""
        if not isinstance(data, dict):
            return data
        own = {k: data[k] for k in ("name", "sample") if k in data}
        return {**own, "params": {k: v for k, v in data.items() if k not in own}}

    @model_validator(mode="after")
    def _valid_space(self) -> SpaceConfig:
        try:
            cls = space_class(self.name)
            params = {k: v for k, v in self.params.items()
                      if k in cls.Params.model_fields or k not in LEGACY_SPACE_KEYS
                      or _legacy_value(v) != _legacy_value(LEGACY_SPACE_KEYS[k])}
            validated = cls.validate_params(params, self.name)
            space = cls.from_params(validated)
        except BadInput as err:
            raise ValueError(str(err)) from None
        object.__setattr__(self, "params", validated.model_dump(mode="json"))
        if self.sample is not None and self.sample > space.size:
            raise ValueError(f"sample {self.sample} exceeds the {space.size} architectures of the space")
        return self

    @model_serializer(mode="plain")
    def _flat(self) -> dict[str, Any]:
        return {"name": self.name, **self.params, "sample": self.sample}

    def space(self) -> Space:
        """The space itself (:class:`cbred_ray.spaces.base.Space`), from the registry."""
        return build_space(self.name, self.params)


def _legacy_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, (list, tuple)) else value


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
    width: int | None = Field(None, ge=1, le=1024, description="channels of the network statistics are computed "
                              "on (NB201 and cell spaces: its channels, 16; NB101: its stem, 8; "
                              "a space of your own: what its networks() takes); null: the space's default")
    shard_size: int = Field(25, ge=1, le=1_000_000, description="distinct cells per stats shard")
    precomputed: str | None = Field(None, description="a Parquet file of statistics (cbred export --stage stats) "
                                    "to read instead of computing them; relative to the config file")

    @field_validator("names")
    @classmethod
    def _known(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if name not in NETWORK_OF:
                raise ValueError(f"unknown statistic {name!r} (known: {', '.join(NETWORK_OF)})")
        if not names:
            raise ValueError("at least one statistic is needed")
        return names

    @model_validator(mode="after")
    def _options_match_statistics(self) -> StatsConfig:
        check_options(self.names, self.options)  # against the catalogue's declarations, without torch
        return self



class ResourcesConfig(_Strict):
    """Where and how wide a run computes: settings that never change a result, so they are not part
    of the config hash. A store started with one setting is finished with another (a laptop's run
    resumed on a cluster); the manifest records the resources of each session."""

    num_actors: int | None = Field(None, ge=1, description="statistics actors; null: one per GPU, or one per CPU")
    num_gpus_per_actor: float | Literal["auto"] = Field("auto", description="auto: 1 when the cluster has GPUs, "
                                                        "else 0; a fraction packs actors on one GPU")
    torch_threads: int = Field(1, ge=1, le=1024, description="torch threads (and CPUs asked of Ray) per actor")
    holders: int | None = Field(None, ge=1, le=10_000, description="actors holding the graphs shards for "
                                "distributed clustering; null: one per CPU of the cluster, at most one per shard")
    wait_seconds: float = Field(600.0, gt=0, le=86_400, description="how long the graphs or statistics stage waits "
                                "for the cluster to have room for a task or actor (nodes lost, none back yet) before "
                                "the run fails, its finished work kept")

    @field_validator("num_gpus_per_actor")
    @classmethod
    def _gpus(cls, value: float | str) -> float | str:
        if value != "auto" and not 0 <= float(value) <= 8:
            raise ValueError(f"num_gpus_per_actor must be 'auto' or in [0, 8], got {value!r}")
        return value


class EditCostsConfig(_Strict):
    """Overrides of the cell edit distance's cost model (``cbred_ray.cluster.edit_distance.EditCosts``);
    null keeps the default."""

    same_family: float | None = Field(None, ge=0, description="substitute within a family (default 0.5)")
    other_family: float | None = Field(None, ge=0, description="substitute across families (default 1)")
    insert: float | None = Field(None, ge=0, description="insert an edge, any operation (default 1)")
    delete: float | None = Field(None, ge=0, description="delete an edge, any operation (default 1)")


class ClusterConfig(_Strict):
    """How the computational graphs are clustered, and how K (and η) are chosen.

    ``k`` (and, for spectral clustering, ``eta``) is one value or a list: a list is a grid
    that ``criterion`` searches (silhouette, eigengap or stability; never accuracy).
    Spectral clustering builds its affinity exp(-d²/η) from ``distance``: a probabilistic
    distance between operation-usage distributions, or the graph edit distance between
    cells (``edit_costs``).
    """

    method: Literal["kmeans", "spectral"] = "kmeans"
    engine: Literal["auto", "driver", "distributed"] = Field("auto", description="driver: every clustering, "
                                                             "features held on the driver; distributed: k-means "
                                                             "or Nyström spectral over holder actors; auto: by "
                                                             "the number of architectures")
    features: Literal["op_usage", "op_counts", "adjacency"] = "op_usage"
    distance: Literal["hellinger", "jensen_shannon", "symmetric_kl", "edit"] = "hellinger"
    edit_costs: EditCostsConfig = EditCostsConfig()
    k: int | tuple[int, ...] = 16
    eta: float | tuple[float, ...] = 0.1
    criterion: Literal["silhouette", "eigengap", "stability"] = "silhouette"
    n_init: int = Field(10, ge=1)
    max_iter: int = Field(100, ge=1, le=10_000, description="Lloyd iterations of distributed k-means")
    landmarks: int = Field(500, ge=2, le=20_000, description="Nyström landmarks of distributed spectral clustering")
    fit_sample: int = Field(20_000, ge=2, le=10_000_000, description="rows the Nyström approximation is fitted "
                            "on before every row is assigned (distributed spectral clustering)")

    @field_validator("k")
    @classmethod
    def _ks(cls, k: int | tuple[int, ...]) -> int | tuple[int, ...]:
        for value in (k,) if isinstance(k, int) else k:
            if not 2 <= value <= 10_000:
                raise ValueError(f"every K must be in [2, 10000], got {value!r}")
        if not isinstance(k, int) and not k:
            raise ValueError("a K grid needs at least one value")
        return k

    @field_validator("eta")
    @classmethod
    def _etas(cls, eta: float | tuple[float, ...]) -> float | tuple[float, ...]:
        for value in (eta,) if isinstance(eta, (int, float)) else eta:
            if not value > 0:
                raise ValueError(f"every bandwidth eta must be positive, got {value!r}")
        if not isinstance(eta, (int, float)) and not eta:
            raise ValueError("an eta grid needs at least one value")
        return eta

    @model_validator(mode="after")
    def _consistent(self) -> ClusterConfig:
        if self.method == "kmeans" and self.criterion == "eigengap":
            raise ValueError("criterion 'eigengap' needs method 'spectral' (it reads the affinity's spectrum)")
        if self.method == "spectral" and self.distance != "edit" and self.features != "op_usage":
            raise ValueError(f"distance {self.distance!r} compares distributions: use features 'op_usage'")
        return self

    def engine_for(self, architectures: int) -> str:
        """The engine that clusters ``architectures`` architectures (``auto``: the driver up to
        :data:`DRIVER_ENGINE_MAX`, holder actors beyond)."""
        if self.engine != "auto":
            return self.engine
        return "driver" if architectures <= DRIVER_ENGINE_MAX else "distributed"

    @property
    def ks(self) -> tuple[int, ...]:
        return (self.k,) if isinstance(self.k, int) else tuple(self.k)

    @property
    def etas(self) -> tuple[float, ...]:
        return (float(self.eta),) if isinstance(self.eta, (int, float)) else tuple(float(e) for e in self.eta)


class QuickConfig(_Strict):
    """Quick mode: score each cluster from a seeded sample of its members."""

    enabled: bool = False
    sample_per_cluster: int = Field(24, ge=2)


class HalvingConfig(_Strict):
    """Sampled scoring by successive halving: the clusters are scored from seeded samples of their
    members, with bootstrap intervals, and each round computes statistics only for the clusters
    still in contention, within a budget of a fraction of the space."""

    enabled: bool = False
    budget: float = Field(0.05, gt=0.0, le=1.0, description="fraction of the space whose statistics may be "
                          "computed, over every round")


class ConstraintsConfig(_Strict):
    """Hardware budget. Costs are those of the network NB201 builds from the arch string
    (every edge that is not ``none`` counts, as in NB201's own tables)."""

    max_params: float | None = Field(None, gt=0, description="most parameters, e.g. 500000")
    max_macs: float | None = Field(None, gt=0, description="most multiply-accumulates per image")
    apply: Literal["before", "after"] = Field("before", description="before: cluster only the architectures "
                                              "within budget; after: cluster the whole space, then drop the rest")


class SelectConfig(_Strict):
    statistics: tuple[str, ...] = ("naswot_v2", "logsynflow")
    scoring: Literal["median_rank", "mean_rank", "quantile_rank"] = "median_rank"
    quantile: float = Field(0.5, gt=0.0, lt=1.0)
    combine: Literal["mean", "median", "min", "log_rank"] = Field(
        "mean", description="how the statistics' summaries make a cluster's score: mean; median or min are robust "
        "to one misleading statistic; log_rank (AZ-NAS) sums their logarithms, and also orders architectures "
        "(Q + C, Quantiled) by their ranks' log sum instead of their mean")
    min_cluster_size: int = Field(1, ge=1)
    max_cluster_fraction: float | None = Field(None, gt=0.0, le=1.0, description="clusters of more than this "
                                               "fraction of the space cannot be chosen (the reduced space stays "
                                               "within it); null: any size")
    bootstrap: int = Field(200, ge=0, le=100_000, description="resamplings of each cluster's members for the "
                           "95 % interval of its score (0: none)")
    top_fraction: float | None = Field(None, gt=0.0, le=1.0, description="C-BRED (Q + C): keep this fraction of "
                                       "the space, the best members of the best cluster by the statistics' mean "
                                       "rank; null: C-BRED (C), the whole cluster")
    union_share: float | None = Field(None, gt=0.0, le=1.0, description="keep the best-scored clusters, in order "
                                      "of score, until they hold this share of the space; null: the best cluster")
    union_cut: Literal["params", "macs"] | None = Field(None, description="cut that union to exactly union_share "
                                                        "of the space, largest networks by this free cost first; "
                                                        "null: the whole clusters")
    constraints: ConstraintsConfig = ConstraintsConfig()
    quick: QuickConfig = QuickConfig()
    halving: HalvingConfig = HalvingConfig()

    @model_validator(mode="after")
    def _one_way_of_keeping(self) -> SelectConfig:
        for mode in ("quick", "halving"):
            if self.top_fraction is not None and getattr(self, mode).enabled:
                raise ValueError(f"top_fraction ranks every member of the best cluster: it needs {mode}.enabled false")
        if self.quick.enabled and self.halving.enabled:
            raise ValueError("quick and halving are two ways of sampling the clusters: enable one")
        if self.union_cut is not None and self.union_share is None:
            raise ValueError(f"union_cut {self.union_cut!r} cuts a union of clusters: set union_share")
        if self.union_share is not None and self.top_fraction is not None:
            raise ValueError("union_share and top_fraction are two ways of keeping a share of the space: set one")
        if self.union_share is not None and self.halving.enabled:
            raise ValueError("successive halving keeps one cluster: union_share needs halving.enabled false")
        return self


class RunConfig(_Strict):
    """A whole run, for any space: graphs -> clusters -> statistics (every architecture, a seeded
    sample per cluster, or successive halving within a budget) -> selection."""

    name: str = "run"
    seed: int = Field(0, ge=0, le=2**31 - 1)
    space: SpaceConfig = SpaceConfig()
    graphs: GraphsConfig = GraphsConfig()
    stats: StatsConfig = StatsConfig()
    cluster: ClusterConfig = ClusterConfig()
    select: SelectConfig = SelectConfig()
    resources: ResourcesConfig = ResourcesConfig()

    @field_validator("select")
    @classmethod
    def _select_uses_quality_stats(cls, select: SelectConfig) -> SelectConfig:
        for name in select.statistics:
            if name not in NETWORK_OF:
                raise ValueError(f"unknown statistic {name!r} (known: {', '.join(NETWORK_OF)})")
        return select

    @model_validator(mode="after")
    def _consistent(self) -> RunConfig:
        space, cluster = self.space.space(), self.cluster
        missing = [s for s in self.select.statistics if s not in self.stats.names]
        if missing:
            raise ValueError(f"select.statistics {missing[0]!r} is not computed: add it to stats.names")
        refused = refused_statistics(self.stats.names, space)
        if refused:
            raise ValueError(f"statistic {next(iter(refused))!r} {next(iter(refused.values()))}")
        if cluster.method == "spectral" and cluster.distance == "edit" and not space.edit_distance:
            raise ValueError(f"the cell edit distance is defined on NB201 cells, not on space {space.name!r}")
        if cluster.engine_for(self.space.sample or space.size) == "distributed":
            if not isinstance(cluster.k, int) or not isinstance(cluster.eta, (int, float)):
                raise ValueError(f"distributed clustering takes one K (and one eta): got k {cluster.k!r}, "
                                 f"eta {cluster.eta!r}")
            if cluster.method == "spectral" and cluster.distance == "edit":
                raise ValueError("distributed spectral clustering compares operation-usage distributions, "
                                 "not edit distances")
        return self

    def identity(self) -> dict:
        """Everything that determines the run's results: the config without ``resources``."""
        return self.model_dump(mode="json", exclude={"resources"})

    def hash(self) -> str:
        """Stable hash of :meth:`identity`: the store's key (a run resumes under any resources)."""
        return config_hash(self.identity())


RUN_SCHEME = 2
"""What a store's contents are, besides the config: how seeds are derived and what each stage writes (2: every
seed from one SeedSequence of the run, the costs in the graphs, the budget applied by the cluster stage).
Part of every config hash, so that a store written under another scheme is never resumed as this one's."""


def config_hash(config: dict) -> str:
    """A short, key-order independent hash of a JSON-able config (and of :data:`RUN_SCHEME`)."""
    return hashlib.sha256(json.dumps({**config, "run_scheme": RUN_SCHEME}, sort_keys=True).encode()).hexdigest()[:16]


def one_line(err: ValidationError, origin: str) -> str:
    """The first validation error as one line naming the key and the bad value."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        return f"{origin}: unknown config key {where!r}"
    value = first.get("input")
    if first["type"] == "value_error" and isinstance(value, dict):  # a section refused as a whole: its reason
        return f"{origin}: {first['msg'].removeprefix('Value error, ')}"
    return f"{origin}: bad value for {where!r}: {short(repr(value))} ({short(first['msg'])})"


def config_from_dict(data: dict, origin: str = "config") -> RunConfig:
    if not isinstance(data, dict):
        raise BadInput(f"{origin}: a config must be a mapping, got {type(data).__name__}")
    try:
        return RunConfig.model_validate(data)
    except ValidationError as err:
        raise BadInput(one_line(err, origin)) from None


PATH_KEYS = (("stats", "data", "source"), ("stats", "precomputed"))
"""Config values that are paths: relative ones are read relative to the file that sets them."""


MAX_CONFIG_VALUES = 100_000
"""Values a config may hold once its YAML aliases are expanded: a config is a few dozen settings, and a
few lines of nested aliases can stand for billions (a "billion laughs")."""


def _expanded_size(value: object, limit: int) -> int:
    """The number of values in ``value`` with every shared (aliased) part counted each time it appears;
    stops counting past ``limit``."""
    count, todo = 0, [value]
    while todo and count <= limit:
        item = todo.pop()
        count += 1
        if isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
    return count


def _read_yaml(path: Path) -> dict:
    if path.is_dir():
        raise BadInput(f"config {str(path)!r} is a directory: give the path of a YAML file")
    if not path.is_file():
        raise BadInput(f"config file not found: {str(path)!r}")
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInput(f"config {str(path)!r} is not UTF-8 text (byte {raw[err.start]:#04x} at offset {err.start}): "
                       "save it as UTF-8") from None
    except OSError as err:
        raise BadInput(f"config {str(path)!r} cannot be read: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise BadInput(f"config {str(path)!r} is not valid YAML: {short(str(err).splitlines()[0])}") from None
    if _expanded_size(data, MAX_CONFIG_VALUES) > MAX_CONFIG_VALUES:
        raise BadInput(f"config {str(path)!r} holds more than {MAX_CONFIG_VALUES:,} values once its YAML aliases are "
                       "expanded: a config is a few dozen settings")
    if data is None:
        raise BadInput(f"config {str(path)!r} is empty: a config is a mapping (name, space, stats, ...), "
                       "or {} for every default")
    if not isinstance(data, dict):
        raise BadInput(f"config {str(path)!r} must be a mapping of sections, got a {type(data).__name__}")
    for keys in PATH_KEYS:
        parent = data
        for key in keys[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        value = parent.get(keys[-1]) if isinstance(parent, dict) else None
        if isinstance(value, str) and value not in BUILTIN_SOURCES and not Path(value).is_absolute():
            parent[keys[-1]] = str((path.parent / value).resolve())
    return data


def merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` laid over it: mappings merge key by key, anything else replaces."""
    merged = dict(base)
    for key, value in changes.items():
        merged[key] = merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def _compose(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    """The config file at ``path`` laid over the file its ``base:`` names (relative to it), recursively."""
    path = path.resolve()
    if path in seen:
        raise BadInput(f"config {str(path)!r}: base: configs form a cycle")
    data = _read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise BadInput(f"config {str(path)!r}: base must be the path of another config, got {base!r}")
    return merge(_compose(path.parent / base, (*seen, path)), data)


def parse_override(override: str) -> tuple[tuple[str, ...], object]:
    """``section.key=value`` as (keys, value); the value is read as YAML (``8``, ``[8, 16]``, ``null``)."""
    path, sep, text = override.partition("=")
    keys = tuple(path.strip().split("."))
    if not sep or not all(keys):
        raise BadInput(f"--set {override!r}: give section.key=value, e.g. --set cluster.k=8")
    try:
        return keys, yaml.safe_load(text)
    except yaml.YAMLError:
        raise BadInput(f"--set {override!r}: the value is not valid YAML") from None


def apply_overrides(data: dict, overrides: tuple[str, ...] | list[str]) -> dict:
    """``data`` with every ``section.key=value`` of ``overrides`` set, in order."""
    for override in overrides:
        keys, value = parse_override(override)
        changes: object = value
        for key in reversed(keys):
            changes = {key: changes}
        parent = data
        for depth, key in enumerate(keys[:-1]):
            parent = parent.get(key) if isinstance(parent, dict) else None
            if parent is not None and not isinstance(parent, dict):
                raise BadInput(f"--set {override!r}: {'.'.join(keys[:depth + 1])!r} is a value, not a section")
        data = merge(data, changes)
    return data


def load_config(path: str | Path, overrides: tuple[str, ...] | list[str] = ()) -> RunConfig:
    """Read a YAML config (laid over its ``base:``, if it names one), apply ``--set`` overrides and
    validate it all as one; relative paths resolve against the file that sets them."""
    data = apply_overrides(_compose(Path(path)), overrides)
    origin = str(path) + (" with --set " + " ".join(overrides) if overrides else "")
    return config_from_dict(data, origin=origin)
