"""A space defined by a PyTorch builder: the least a user writes, everything else derived by tracing.

A subclass of :class:`BuilderSpace` gives

- ``name`` (and, optionally, ``Params``, ``id_column``, ``benchmark_table``, ``input_shape``, and
  ``network_methods`` when its networks define ``pre_pool`` or ``cell_features``, which Zen-NAS and AZ-NAS
  call: without them those statistics are refused before a run);
- ``size``, ``parse_id(text) -> index`` and ``format_ids(indices) -> identifiers``;
- ``build(arch, width, num_classes) -> torch.nn.Module``: the network of the architecture whose
  identifier is ``arch``, at ``width`` (None: the space's own width; the statistics may ask for a
  narrower copy) with a head of ``num_classes`` outputs.

Everything else the method needs comes from the built network, traced with ``torch.fx``
(:mod:`cbred_ray.graphs.traced`): the bipartite memory/kernel computational graph, the clustering
features (``op_counts``, ``op_usage`` over the kernel types of :attr:`BuilderSpace.kernel_types`;
``adjacency``: the counts of each (kernel type -> kernel type) data edge, a path feature of length
one, not lossless), the deduplication key (:meth:`BuilderSpace.graph_keys`, the graph's
Weisfeiler-Lehman hash: a run computes the statistics once per key) and the costs (parameters and
MACs at ``input_shape``). Any of these may be overridden with a closed form, as the built-in spaces
do. Every architecture is its own canonical index unless the subclass gives ``canonical_indices``.

This module imports no torch: tracing loads it when a graph, feature or cost is first asked for.
"""
from __future__ import annotations

from abc import abstractmethod
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from cbred_ray.spaces.base import Space

if TYPE_CHECKING:
    import networkx as nx
    from torch import nn

    from cbred_ray.graphs.traced import TracedNetwork

OTHER = "other"
"""The kernel type every kernel outside a space's vocabulary is counted as."""
VOCABULARY_SAMPLE = 64
"""Architectures traced (seeded) to find a builder space's kernel types when it does not list them."""
GRAPH_CLASSES = 10
"""Classes of the head of the network traced for the graph and the features (they do not depend on it)."""


class BuilderSpace(Space):
    """A space given by its identifiers and a network builder (see the module docstring)."""

    id_column = "arch"
    network_kinds = ("standard", "small")
    traced_features: ClassVar[bool] = True
    input_shape: ClassVar[tuple[int, ...]] = (1, 3, 32, 32)
    """The input the networks are traced and costed at (one image)."""
    small_width: ClassVar[int | None] = None
    """The width of the ``small`` network (the NTK's and SWAP's); None: the standard width."""

    @abstractmethod
    def build(self, arch: str, width: int | None = None, num_classes: int = 10) -> nn.Module:
        """The untrained network of the architecture ``arch`` (its identifier)."""

    # -- tracing --------------------------------------------------------------------------------
    def traced(self, index: int, num_classes: int = GRAPH_CLASSES) -> TracedNetwork:
        """The traced network of architecture ``index`` at the space's own width (cached)."""
        return _traced(self, int(index), int(num_classes))

    def computational_graph(self, index: int) -> nx.DiGraph:
        return self.traced(index).graph

    def graph_keys(self, indices: np.ndarray) -> np.ndarray:
        """The deduplication key of each architecture: its traced graph's Weisfeiler-Lehman hash (its first
        64 bits, as int64): architectures whose networks trace to the same graph are computed once."""
        hashes = [self.traced(i).hash for i in self.check_indices(indices)]
        return np.asarray([int(h[:16], 16) for h in hashes], dtype=np.uint64).view(np.int64)

    @cached_property
    def kernel_types(self) -> tuple[str, ...]:
        """The kernel types of a seeded sample of the space's traced graphs, sorted, then ``other`` (every
        kernel of a type the sample did not show). A subclass may list its own."""
        found: set[str] = set()
        for index in self.sample(min(self.size, VOCABULARY_SAMPLE), seed=0):
            found.update(kind for kind, _ in _kernel_kinds(self.traced(index).graph))
        return (*sorted(found - {OTHER}), OTHER)

    # -- features, costs, equivalence -----------------------------------------------------------
    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        return self.check_indices(indices).copy()

    def features(self, canonical: np.ndarray, name: str) -> np.ndarray:
        self.check_feature(name)
        types = self.kernel_types
        position = {kind: k for k, kind in enumerate(types)}
        rows = []
        for index in self.check_indices(canonical):
            graph = self.traced(index).graph
            if name == "adjacency":
                row = np.zeros((len(types), len(types)))
                for (a, b), count in _kernel_edges(graph).items():
                    row[position.get(a, position[OTHER]), position.get(b, position[OTHER])] += count
                rows.append(row.ravel())
                continue
            row = np.zeros(len(types))
            for kind, count in _kernel_kinds(graph):
                row[position.get(kind, position[OTHER])] += count
            total = row.sum()
            rows.append(row / total if name == "op_usage" and total > 0 else row)
        return np.asarray(rows, dtype=np.float64).reshape(-1, len(types) ** (2 if name == "adjacency" else 1))

    def costs(self, indices: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """(parameters, MACs) of the network at the space's own width, measured on the built network."""
        summaries = [self.traced(i, num_classes) for i in self.check_indices(indices)]
        return (np.asarray([s.params for s in summaries], dtype=np.float64),
                np.asarray([s.macs for s in summaries], dtype=np.float64))

    # -- networks -------------------------------------------------------------------------------
    def networks(self, canonical_index: int, width: int | None = None) -> BuiltNetworks:
        return BuiltNetworks(self, self.format_ids([canonical_index])[0], width, self.small_width or width)


@dataclass(frozen=True)
class BuiltNetworks:
    """The networks of one architecture of a :class:`BuilderSpace`: ``standard`` at ``width``, ``small`` at
    ``small_width``, both from the space's ``build``."""

    space: BuilderSpace
    arch: str
    width: int | None
    small_width: int | None

    def build(self, kind: str, num_classes: int) -> nn.Module:
        from cbred_ray.errors import BadInput

        if kind not in self.space.network_kinds:
            raise BadInput(f"space {self.space.name!r} has no {kind} network (it has: "
                           f"{', '.join(self.space.network_kinds)})")
        return self.space.build(self.arch, self.width if kind == "standard" else self.small_width, num_classes)


@lru_cache(maxsize=4096)
def _traced(space: BuilderSpace, index: int, num_classes: int) -> TracedNetwork:
    from cbred_ray.graphs.traced import network_summary

    net = space.build(space.format_ids([index])[0], None, num_classes)
    return network_summary(net, space.input_shape)


def _kernel_kinds(graph: nx.DiGraph) -> list[tuple[str, int]]:
    counts = Counter(attrs["kind"] for _, attrs in graph.nodes(data=True) if attrs["partition"] == "kernel")
    return sorted(counts.items())


def _kernel_edges(graph: nx.DiGraph) -> Counter:
    """How often an array written by a kernel of one type is read by a kernel of another."""
    edges: Counter = Counter()
    for kernel, attrs in graph.nodes(data=True):
        if attrs["partition"] != "kernel":
            continue
        for array in graph.successors(kernel):
            for reader in graph.successors(array):
                edges[(attrs["kind"], graph.nodes[reader]["kind"])] += 1
    return edges
