"""A space defined only by identifiers and a PyTorch builder (BuilderSpace): the graph, features, costs
and deduplication key derived by tracing, and a whole reduction of it given as an object."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

import cbred_ray
from cbred_ray.errors import BadInput
from cbred_ray.spaces.builder import OTHER, BuilderSpace
from cbred_ray.stats.cost import params as params_of

CHOICES = ("skip", "conv3", "dwsep5")


class ChainParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    layers: int = Field(3, ge=1, le=6)


def _block(choice: str, width: int) -> nn.Module:
    if choice == "skip":
        return nn.Identity()
    if choice == "conv3":
        return nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
    return nn.Sequential(nn.Conv2d(width, width, 5, padding=2, groups=width, bias=False),
                         nn.Conv2d(width, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())


@dataclass(frozen=True)
class TinyChain(BuilderSpace):
    """A user's chain space, written as a user would: ``layers`` layers of one of three blocks each."""

    layers: int = 3
    name: str = "test-tiny-chain"
    Params: ClassVar[type[BaseModel]] = ChainParams

    @property
    def size(self) -> int:
        return len(CHOICES) ** self.layers

    @property
    def radices(self) -> tuple[int, ...]:
        return (len(CHOICES),) * self.layers

    def parse_id(self, text: str) -> int:
        if not isinstance(text, str) or len(text) != self.layers or set(text) - set("012"):
            raise BadInput(f"not a {self.name} identifier: {text!r}")
        return int(text, len(CHOICES))

    def format_ids(self, indices) -> list[str]:
        return [np.base_repr(int(i), len(CHOICES)).zfill(self.layers) for i in self.check_indices(indices)]

    def build(self, arch: str, width: int | None = None, num_classes: int = 10) -> nn.Module:
        width = width or 8
        return nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                             *(_block(CHOICES[int(c)], width) for c in arch),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, num_classes))


def test_features_are_derived_from_the_traced_network():
    space = TinyChain()
    types = space.kernel_types
    assert types[-1] == OTHER and {"conv3x3", "dwconv5x5", "conv1x1", "batchnorm", "relu", "linear"} <= set(types)
    indices = np.arange(space.size)
    counts = space.features(indices, "op_counts")
    assert counts.shape == (space.size, len(types))
    for row, arch in zip(counts, space.format_ids(indices)):
        assert row[types.index("dwconv5x5")] == arch.count("2")
        assert row[types.index("conv3x3")] == 1 + arch.count("1")  # the stem and each conv3 layer
        assert row[types.index("relu")] == 1 + arch.count("1") + arch.count("2")
    usage = space.features(indices, "op_usage")
    assert np.allclose(usage.sum(axis=1), 1.0)
    assert space.features(indices[:4], "adjacency").shape == (4, len(types) ** 2)


def test_costs_are_the_built_networks_and_keys_tell_architectures_apart():
    space = TinyChain()
    picked = np.array([0, 5, 13, space.size - 1])
    parameters, macs = space.costs(picked, 10)
    for index, counted in zip(picked, parameters):
        assert counted == params_of(space.build(space.format_ids([index])[0], None, 10))
    assert (macs > 0).all()
    keys = space.graph_keys(np.arange(space.size))
    assert len(set(keys)) == space.size  # every chain is a different program


def test_a_builder_space_reduces_end_to_end_with_halving_and_a_report(tmp_path):
    space = TinyChain(layers=4)
    config = {
        "seed": 0,
        "stats": {"names": ["naswot_v2", "logsynflow", "params"], "num_classes": 10, "shard_size": 4,
                  "data": {"source": "cifar10-sample20", "batch_size": 16}},
        "cluster": {"k": 4, "n_init": 2},
        "select": {"statistics": ["naswot_v2", "logsynflow"], "bootstrap": 20, "min_cluster_size": 2,
                   "halving": {"enabled": True, "budget": 0.5}},
    }
    result = cbred_ray.reduce(config, out=tmp_path / "store", space=space, progress=False)
    measured = result.manifest["rows"]["stats"]
    assert 0 < measured <= space.size // 2 and len(result.ids) > 0
    assert set(result.selection["cluster"]) == {result.cluster}
    # a made-up ground truth (no one has trained this space): the report's mechanics, not the method's merit
    ids = space.format_ids(np.arange(space.size))
    table = tmp_path / "made_up_accuracy.parquet"
    pd.DataFrame({"arch": ids, "cifar10_test_acc": [50 + 5 * a.count("1") + 3 * a.count("2") for a in ids]}) \
        .to_parquet(table)
    from cbred_ray.report.report import write_report

    report = write_report(tmp_path / "store", table, tmp_path / "report", seeds=2, progress=False, space=space)
    text = report.read_text()
    assert "C-BRED" in text and f"{space.size:,} architectures" in text
    # without ground truth (the space ships no table): what each way of choosing keeps, no accuracy
    described = write_report(tmp_path / "store", None, tmp_path / "described", seeds=2, progress=False, space=space)
    assert "without ground truth" in described.read_text()
    summary = pd.DataFrame(json.loads((tmp_path / "described" / "results.json").read_text())["summary"])
    rows = summary.set_index("method")
    assert rows.loc["C-BRED (C)", "in_kept_cluster"] == 1.0 and rows.loc["Whole space", "size"] == space.size
    assert rows.loc["Params-Quantiled", "params_mean"] >= rows.loc["Whole space", "params_mean"]


@dataclass(frozen=True)
class TwinChain(TinyChain):
    """The chain space with a fourth block, ``skip2``, that is ``skip`` under another name: architectures
    that differ only in those two build the same network, and the traced key must say so."""

    name: str = "test-twin-chain"

    @property
    def size(self) -> int:
        return 4 ** self.layers

    def parse_id(self, text: str) -> int:
        if not isinstance(text, str) or len(text) != self.layers or set(text) - set("0123"):
            raise BadInput(f"not a {self.name} identifier: {text!r}")
        return int(text, 4)

    def format_ids(self, indices) -> list[str]:
        return [np.base_repr(int(i), 4).zfill(self.layers) for i in self.check_indices(indices)]

    def build(self, arch: str, width: int | None = None, num_classes: int = 10) -> nn.Module:
        return super().build(arch.replace("3", "0"), width, num_classes)


@pytest.mark.parametrize("engine", ["driver", "distributed"])
def test_architectures_with_the_same_traced_graph_are_computed_once(tmp_path, engine):
    """On either clustering engine; shards of 3 architectures put the names of one network in different
    shards (and, distributed, on different holders), so each key's representative is the run's."""
    space = TwinChain(layers=2)
    keys = space.graph_keys(np.arange(space.size))
    classes = {a.replace("3", "0") for a in space.format_ids(np.arange(space.size))}
    assert len(set(keys.tolist())) == len(classes)  # 9 networks among 16 names
    config = {"stats": {"names": ["logsynflow", "params"], "num_classes": 10, "data": {"source": None,
                                                                                        "batch_size": 8}},
              "graphs": {"shard_size": 3},
              "cluster": {"k": 2, "n_init": 1, "engine": engine}, "resources": {"holders": 2},
              "select": {"statistics": ["logsynflow"], "bootstrap": 0}}
    result = cbred_ray.reduce(config, out=tmp_path / "store", space=space, progress=False)
    assert result.manifest["stages"]["clusters"]["engine"] == engine
    assert result.manifest["space"]["unique_cells"] == len(classes)
    assert result.manifest["stages"]["stats"]["cells_computed"] == len(classes)
    clusters = result.clusters
    ids = pd.Series(space.format_ids(clusters.index.to_numpy()), index=clusters.index)
    for _, group in clusters.groupby(ids.str.replace("3", "0")):  # each class has one representative
        assert group["canonical_index"].nunique() == 1
        assert group["canonical_index"].iloc[0] == group.index.min()
    stats = result.stats
    assert stats.groupby(ids.str.replace("3", "0"))["logsynflow"].nunique().max() == 1


class _PrePooled(nn.Module):
    def __init__(self, body: nn.Sequential) -> None:
        super().__init__()
        self.body, self.head = body[:-3], body[-3:]

    def forward(self, x):
        return self.head(self.pre_pool(x))

    def pre_pool(self, x):
        return self.body(x)


@dataclass(frozen=True)
class PrePooledChain(TinyChain):
    """Declares, and its networks define, the ``pre_pool`` method Zen-NAS calls."""

    name: str = "test-pre-pooled-chain"
    network_methods = ("pre_pool",)

    def build(self, arch: str, width: int | None = None, num_classes: int = 10) -> nn.Module:
        return _PrePooled(super().build(arch, width, num_classes))


@dataclass(frozen=True)
class ClaimsPrePool(TinyChain):
    """Declares ``pre_pool``, but its networks are plain ``nn.Sequential``."""

    name: str = "test-claims-pre-pool"
    network_methods = ("pre_pool",)


def test_a_statistic_calling_a_network_method_the_space_lacks_is_refused_before_a_run(tmp_path):
    config = {"stats": {"names": ["zen", "params"], "data": {"source": None}},
              "select": {"statistics": ["zen"], "bootstrap": 0}}
    with pytest.raises(BadInput) as caught:
        cbred_ray.reduce(config, out=tmp_path / "store", space=TinyChain(layers=1), progress=False)
    message = str(caught.value)
    assert "'zen'" in message and "pre_pool" in message and "\n" not in message
    assert not (tmp_path / "store").exists()
    config["stats"]["names"] = ["az_expressivity", "params"]
    config["select"]["statistics"] = ["az_expressivity"]
    with pytest.raises(BadInput, match="cell_features"):
        cbred_ray.reduce(config, out=tmp_path / "store", space=PrePooledChain(layers=1), progress=False)


def test_check_space_runs_what_the_networks_declare_and_holds_them_to_it():
    from cbred_ray.spaces.check import CHECKS, SpaceCheckFailed, check_space

    only_statistics = [name for name in CHECKS if name != "statistics"]
    (plain,) = check_space(TinyChain(layers=1), skip=only_statistics)
    refused = plain.detail.split("refused: ")[1]
    assert "zen (calls the network's pre_pool" in refused and "az_expressivity (calls the network's cell_features" \
        in refused
    (pooled,) = check_space(PrePooledChain(layers=1), skip=only_statistics)
    computed, refused = pooled.detail.split("refused: ")
    assert "zen" not in refused and "zen (" not in computed and "az_expressivity" in refused  # zen ran, with a value
    with pytest.raises(SpaceCheckFailed, match="network_methods declares pre_pool"):
        check_space(ClaimsPrePool(layers=1), skip=only_statistics)
