"""The DARTS search space (Liu et al., ICLR 2019): a normal and a reduction cell, each of four intermediate
nodes summing two edges from distinct earlier nodes, every edge one of seven operations.

The space of NAS-Bench-301, PC-DARTS, P-DARTS and most one-shot work: 1.08 × 10^18 genotypes up to the order
of each node's two edges (:data:`~cbred_ray.spaces.darts.encoding.SIZE`), 1.46 × 10^17 distinct architectures
once intermediate nodes are renamed where the order allows (:func:`~cbred_ray.spaces.darts.encoding.distinct_cells`
squared). Too many to list: a run draws a seeded sample of it (``space: {name: darts, sample: N}``).

- **Identifiers**: the compact form ``[[(input, op), ...], [...]]`` is written; it and the official
  ``Genotype(...)`` text parse (:mod:`~cbred_ray.spaces.darts.encoding`, which also says how the index and
  the canonical form are built).
- **Features** (closed forms, no network built): ``op_counts`` counts each operation in the normal and the
  reduction cell apart, then the node sums (``add``, four per cell) and the concatenations (one per cell);
  ``op_usage`` their shares; ``adjacency`` one-hot encodes every edge's input and operation, each node's
  edges smaller input first (lossless).
- **Computational graph** (:meth:`DartsSpace.computational_graph`): the two cells, one kernel per edge (its
  kind the cell and the operation, ``normal_sep_conv_3x3``), one ``add`` per node and one ``concat`` per
  cell, in :mod:`cbred_ray.graphs.computational`'s conventions. It describes the cells, not the network's
  kernels (``graph_of_network`` None: the network repeats the normal cell and the reduction cell unequally).
- **Neighbourhood** (:meth:`DartsSpace.neighbours`): one edge's operation changed (6 × 16 edges), or one edge's
  input moved to another earlier node that the node's other edge does not already read.
- **Network and costs**: :mod:`~cbred_ray.spaces.darts.network` (the DARTS CIFAR network at ``channels``
  and ``cells``), costed in closed form by :mod:`~cbred_ray.spaces.darts.cost`; statistics run on the same
  network at ``stats.width`` channels and ``stats_cells`` cells (a cheaper one). The defaults, 32 initial
  channels and 8 cells without the auxiliary head, are NASLib's NAS-Bench-301 network: its parameter count
  is NAS-Bench-Suite-Zero's ``params_m`` for every architecture of the project's 400-architecture sample.

This module does not import torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space
from cbred_ray.spaces.darts import encoding
from cbred_ray.spaces.darts.encoding import CELL_NAMES, NODES, OPS

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["KERNEL_TYPES", "DartsParams", "DartsSpace"]

KERNEL_TYPES: tuple[str, ...] = (*(f"{cell}_{op}" for cell in CELL_NAMES for op in OPS), "add", "concat")
"""The kernels of the cells' graph: each operation in each cell kind, the node sums, the concatenations."""


class DartsParams(BaseModel):
    """The parameters of the DARTS space (``space: {name: darts, channels: 32, cells: 8}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    channels: int = Field(32, ge=2, le=1024, description="initial channels C of the network (the stem has 3 C; "
                          "each reduction cell doubles them)")
    cells: int = Field(8, ge=3, le=64, description="cells of the network, the ones at a third and two thirds of "
                       "the depth reduction cells")
    auxiliary: bool = Field(False, description="the auxiliary head after the cell at two thirds of the depth "
                            "(its parameters count; it runs in training mode only)")
    stats_cells: int | None = Field(None, ge=3, le=64, description="cells of the network statistics are computed "
                                    "on, at stats.width channels (null: cells); costs are always of the network at "
                                    "channels and cells")


@dataclass(frozen=True)
class DartsSpace(Space):
    """The DARTS space; its network at ``channels`` and ``cells``."""

    channels: int = 32
    cells: int = 8
    auxiliary: bool = False
    stats_cells: int | None = None
    name = "darts"
    id_column = "compact"
    network_kinds = ("standard", "small")
    network_methods = ("pre_pool", "cell_features")
    Params: ClassVar[type[BaseModel]] = DartsParams
    graph_of_network: ClassVar[bool | None] = None
    benchmark_table: ClassVar[str | None] = "cbred_ray.evaluate:tables/nb301_cifar10_sample400.parquet"

    @property
    def size(self) -> int:
        return encoding.SIZE

    # -- identifiers ----------------------------------------------------------------------------
    def parse_id(self, text: str) -> int:
        inputs, ops = encoding.parse(text)
        return int(encoding.encode(inputs[None], ops[None])[0])

    def format_ids(self, indices: np.ndarray) -> list[str]:
        inputs, ops = encoding.decode(self.check_indices(indices))
        return [encoding.format_compact(i, o) for i, o in zip(inputs, ops)]

    def genotypes(self, indices: np.ndarray) -> list[str]:
        """The official ``Genotype(...)`` text of each index."""
        inputs, ops = encoding.decode(self.check_indices(indices))
        return [encoding.format_genotype(i, o) for i, o in zip(inputs, ops)]

    # -- equivalence, features, graph, cost -----------------------------------------------------
    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        return encoding.canonical(self.check_indices(indices))

    @property
    def kernel_types(self) -> tuple[str, ...]:
        return KERNEL_TYPES

    def features(self, canonical: np.ndarray, name: str) -> np.ndarray:
        self.check_feature(name)
        inputs, ops = encoding.decode(self.check_indices(canonical))
        n = len(inputs)
        if name == "adjacency":
            order = np.argsort(inputs, axis=-1, kind="stable")
            inputs, ops = np.take_along_axis(inputs, order, -1), np.take_along_axis(ops, order, -1)
            one_hot = np.concatenate([np.eye(2 + NODES)[inputs], np.eye(len(OPS))[ops]], axis=-1)
            return one_hot.reshape(n, -1).astype(np.float64)
        counts = np.zeros((n, len(KERNEL_TYPES)), dtype=np.float64)
        for cell in range(2):
            for op in range(len(OPS)):
                counts[:, cell * len(OPS) + op] = (ops[:, cell] == op).sum(axis=(1, 2))
        counts[:, -2], counts[:, -1] = 2 * NODES, 2
        return counts / counts.sum(axis=1, keepdims=True) if name == "op_usage" else counts

    def computational_graph(self, index: int) -> nx.DiGraph:
        import networkx as nx

        from cbred_ray.graphs.computational import FEATURE, KERNEL, MEMORY

        inputs, ops = encoding.decode(self.check_indices([index]))
        graph = nx.DiGraph()

        def memory(name: str) -> str:
            graph.add_node(name, partition=MEMORY, kind=FEATURE)
            return name

        def kernel(name: str, kind: str, reads: list[str]) -> str:
            graph.add_node(name, partition=KERNEL, kind=kind)
            graph.add_edges_from((r, name) for r in reads)
            graph.add_edge(name, memory(f"{name}.out"))
            return f"{name}.out"

        for cell, label in enumerate(CELL_NAMES):
            states = [memory(f"{label}.s0"), memory(f"{label}.s1")]
            for j in range(NODES):
                terms = [kernel(f"{label}.n{2 + j}.e{e}", f"{label}_{OPS[ops[0, cell, j, e]]}",
                                [states[inputs[0, cell, j, e]]]) for e in range(2)]
                states.append(kernel(f"{label}.n{2 + j}", "add", terms))
            kernel(f"{label}.concat", "concat", states[2:])
        return graph

    def neighbours(self, index: int) -> np.ndarray:
        """Every genotype with one edge's operation changed, or one edge's input moved to another earlier node
        (not the one the node's other edge reads), sorted."""
        inputs, ops = encoding.decode(self.check_indices([index]))
        moved_inputs, moved_ops = [], []
        for cell in range(2):
            for j in range(NODES):
                for e in range(2):
                    for op in range(len(OPS)):
                        if op != ops[0, cell, j, e]:
                            changed = ops[0].copy()
                            changed[cell, j, e] = op
                            moved_inputs.append(inputs[0])
                            moved_ops.append(changed)
                    for node in range(2 + j):
                        if node not in inputs[0, cell, j]:
                            changed = inputs[0].copy()
                            changed[cell, j, e] = node
                            moved_inputs.append(changed)
                            moved_ops.append(ops[0])
        found = encoding.encode(np.stack(moved_inputs), np.stack(moved_ops))
        return np.unique(found[found != index])

    def costs(self, indices: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        from cbred_ray.spaces.darts.cost import costs

        inputs, ops = encoding.decode(self.check_indices(indices))
        return costs(inputs, ops, self.channels, self.cells, num_classes, self.auxiliary)

    def networks(self, canonical_index: int, width: int | None = None):
        """The DARTS network around the genotype (:class:`cbred_ray.spaces.darts.network.DartsNetworks`)."""
        from cbred_ray.spaces.darts.network import DartsNetworks

        inputs, ops = encoding.decode(self.check_indices([canonical_index]))
        if width is not None and width < 2:
            raise BadInput(f"DARTS networks need at least 2 channels, got width {width}")
        nested = lambda a: tuple(tuple(map(tuple, cell)) for cell in a.tolist())  # noqa: E731
        return DartsNetworks(nested(inputs[0]), nested(ops[0]), self.channels if width is None else width,
                             self.stats_cells or self.cells, self.auxiliary)

    def cost_network(self, index: int, num_classes: int):
        """The network :meth:`costs` describes: at ``channels`` and ``cells``, whatever ``stats_cells`` is."""
        from cbred_ray.spaces.darts.network import DartsNetwork

        inputs, ops = encoding.decode(self.check_indices([index]))
        return DartsNetwork(inputs[0], ops[0], self.channels, self.cells, num_classes, auxiliary=self.auxiliary)
