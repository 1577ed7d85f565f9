"""Generic cell spaces: DAGs over ``nodes`` nodes, one operation per edge.

NAS-Bench-201 is the 4-node, 5-operation member. Node ``i`` sums its incoming
edges ``j -> i`` (``j < i``), so a cell has ``nodes * (nodes - 1) / 2`` edges, held
in the order of the official string ``|op~0|+|op~0|op~1|+...``: (1<-0), (2<-0),
(2<-1), (3<-0), ... A cell's index is its base-``len(ops)`` number with edge 0 as
the most significant digit, so the space is enumerated (and sampled) by index
ranges without ever holding it whole.

Everything here is vectorised over (n, edges) int8 arrays; nothing builds one
Python graph per architecture.

Canonical form (one representative per computed function), for any node count:
1. dead edges are set to ``none``: an edge whose source is unreachable from the
   input (node 0), or whose target cannot reach the output (the last node);
2. isomorphic cells are merged: the intermediate nodes may be renamed by any
   permutation under which every remaining edge still runs from a lower to a
   higher node; the representative is the renaming with the smallest index
   (equivalently, lexicographically smallest cell).
Cells whose output is disconnected from the input map to the all-``none`` cell.
NAS-Bench-201 is :class:`NB201Space`, the 4-node member (:data:`cbred_ray.spaces.cell.nb201.SPACE`): one
implementation, with NB201's arch strings, its 8,765 canonical classes and its networks.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import NoParams, Space, distinct_sorted
from cbred_ray.spaces.cell.cost import cell_costs

KNOWN_OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""Operations a cell space may use (their kernels are defined in :mod:`cbred_ray.spaces.cell.features`)."""
MAX_NODES = 8
_CHUNK = 1 << 18  # rows per vectorised block, to bound temporary memory

__all__ = ["KNOWN_OPS", "MAX_NODES", "CellSpace", "NB201Space", "distinct_sorted"]


class CellParams(BaseModel):
    """The parameters of a cell space (``space: {name: cell, nodes: 5, ops: [...]}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    nodes: int = Field(4, ge=2, le=MAX_NODES, description="cell nodes (input, intermediates, output)")
    ops: tuple[str, ...] = Field(KNOWN_OPS, description=f"operations of each edge, among {', '.join(KNOWN_OPS)}")


@dataclass(frozen=True)
class CellSpace(Space):
    """The space of ``nodes``-node cells over ``ops``."""

    nodes: int = 4
    ops: tuple[str, ...] = KNOWN_OPS
    name: str = "cell"
    id_column = "arch_str"
    Params: ClassVar[type[BaseModel]] = CellParams
    network_methods = ("pre_pool", "cell_features")

    def __post_init__(self) -> None:
        if not 2 <= self.nodes <= MAX_NODES:
            raise BadInput(f"a cell space needs 2 to {MAX_NODES} nodes, got {self.nodes}")
        unknown = [op for op in self.ops if op not in KNOWN_OPS]
        if unknown:
            raise BadInput(f"unknown operation {unknown[0]!r} (known: {', '.join(KNOWN_OPS)})")
        if len(set(self.ops)) != len(self.ops) or len(self.ops) < 1:
            raise BadInput(f"a cell space needs distinct operations, got {list(self.ops)}")
        if self.size >= 2**62:
            raise BadInput(f"a cell space of {len(self.ops)}^{self.num_edges} architectures is too large to index")

    # -- layout -------------------------------------------------------------------------------
    @cached_property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """(to, from) of every edge, in cell order."""
        return tuple((to, frm) for to in range(1, self.nodes) for frm in range(to))

    @property
    def num_edges(self) -> int:
        return self.nodes * (self.nodes - 1) // 2

    @property
    def size(self) -> int:
        return len(self.ops) ** self.num_edges

    @property
    def radices(self) -> tuple[int, ...]:
        """One operation per edge: a neighbour changes one edge's operation."""
        return (len(self.ops),) * self.num_edges

    @cached_property
    def none(self) -> int | None:
        """Index of the ``none`` operation, or None when the space has no such edge."""
        return self.ops.index("none") if "none" in self.ops else None

    @cached_property
    def _places(self) -> np.ndarray:
        return len(self.ops) ** np.arange(self.num_edges - 1, -1, -1, dtype=np.int64)

    # -- indices <-> cells --------------------------------------------------------------------
    def cells_of(self, indices: np.ndarray) -> np.ndarray:
        """Cells (n, edges) int8 for an array of indices; BadInput names one outside the space."""
        idx = self.check_indices(indices)
        return ((idx[:, None] // self._places[None, :]) % len(self.ops)).astype(np.int8)

    def indices_of(self, cells: np.ndarray) -> np.ndarray:
        return np.asarray(cells, dtype=np.int64).reshape(-1, self.num_edges) @ self._places

    def format_cell(self, cell: Sequence[int]) -> str:
        """The official string form, ``|op~0|+|op~0|op~1|+...``."""
        names = [self.ops[int(o)] for o in cell]
        parts, k = [], 0
        for to in range(1, self.nodes):
            parts.append("|" + "|".join(f"{names[k + frm]}~{frm}" for frm in range(to)) + "|")
            k += to
        return "+".join(parts)

    # -- canonical form -----------------------------------------------------------------------
    @cached_property
    def _renamings(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For every renaming of the intermediate nodes but the identity: the edges that still
        point forward once renamed, where each of them lands, and the forward mask."""
        out = []
        position = {edge: k for k, edge in enumerate(self.edges)}
        middle = list(range(1, self.nodes - 1))
        for perm in itertools.permutations(middle):
            if list(perm) == middle:
                continue
            rename = {0: 0, self.nodes - 1: self.nodes - 1, **dict(zip(middle, perm, strict=True))}
            forward = np.array([rename[to] > rename[frm] for to, frm in self.edges])
            dest = np.array([position[(rename[to], rename[frm])] for to, frm in np.asarray(self.edges)[forward]])
            out.append((np.flatnonzero(forward), dest, forward))
        return out

    def live_edges(self, cells: np.ndarray) -> np.ndarray:
        """Boolean (n, edges): edges that carry information from the input to the output."""
        cells = np.asarray(cells).reshape(-1, self.num_edges)
        on = cells != self.none if self.none is not None else np.ones(cells.shape, dtype=bool)
        n, last = len(cells), self.nodes - 1
        position = {edge: k for k, edge in enumerate(self.edges)}
        fwd = np.zeros((n, self.nodes), dtype=bool)
        fwd[:, 0] = True
        for to in range(1, self.nodes):
            for frm in range(to):
                fwd[:, to] |= fwd[:, frm] & on[:, position[(to, frm)]]
        bwd = np.zeros((n, self.nodes), dtype=bool)
        bwd[:, last] = True
        for frm in range(last - 1, -1, -1):
            for to in range(frm + 1, self.nodes):
                bwd[:, frm] |= bwd[:, to] & on[:, position[(to, frm)]]
        live = np.zeros(cells.shape, dtype=bool)
        for (to, frm), k in position.items():
            live[:, k] = on[:, k] & fwd[:, frm] & bwd[:, to]
        return live

    def canonical_cells(self, cells: np.ndarray) -> np.ndarray:
        """Vectorised canonical form of an (n, edges) array of cells (see the module docstring)."""
        cells = np.asarray(cells, dtype=np.int8).reshape(-1, self.num_edges)
        out = np.empty_like(cells)
        for start in range(0, len(cells), _CHUNK):
            out[start : start + _CHUNK] = self._canonical_block(cells[start : start + _CHUNK])
        return out

    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        """Index of the canonical form of each index, in blocks (bounded memory)."""
        indices = np.asarray(indices, dtype=np.int64).ravel()
        out = np.empty_like(indices)
        for start in range(0, len(indices), _CHUNK):
            block = self.cells_of(indices[start : start + _CHUNK])
            out[start : start + _CHUNK] = self.indices_of(self._canonical_block(block))
        return out

    def _canonical_block(self, cells: np.ndarray) -> np.ndarray:
        if self.none is None:
            return cells  # every edge is live and only the identity renaming keeps all edges forward
        pruned = np.where(self.live_edges(cells), cells, np.int8(self.none)).astype(np.int8)
        best, best_index = pruned, self.indices_of(pruned)
        off = pruned != self.none
        for kept, dest, forward in self._renamings:
            valid = ~(off & ~forward).any(axis=1)  # every live edge still points forward
            renamed = np.full_like(pruned, self.none)
            renamed[:, dest] = pruned[:, kept]
            index = self.indices_of(renamed)
            better = valid & (index < best_index)
            best = np.where(better[:, None], renamed, best)
            best_index = np.where(better, index, best_index)
        return best

    # -- identifiers: the official string form ------------------------------------------------
    @property
    def id_kind(self) -> str:
        """What an identifier of this space is called in an error."""
        return f"{self.nodes}-node arch string"

    def parse_cell(self, arch_str: str) -> tuple[int, ...]:
        """Parse ``|op~0|+|op~0|op~1|+...`` into a cell (operation indices in edge order);
        BadInput names what is wrong."""
        kind = self.id_kind
        if not isinstance(arch_str, str):
            raise BadInput(f"arch string must be text, got {arch_str!r}")
        parts = arch_str.strip().split("+")
        if len(parts) != self.nodes - 1:
            raise BadInput(f"malformed {kind} {arch_str!r}: expected {self.nodes - 1} nodes joined by '+'")
        index = {op: i for i, op in enumerate(self.ops)}
        cell: list[int] = []
        for to, part in enumerate(parts, start=1):
            if len(part) < 2 or not (part.startswith("|") and part.endswith("|")):
                raise BadInput(f"malformed {kind} {arch_str!r}: node {part!r} must be wrapped in '|'")
            edges = part[1:-1].split("|")
            if len(edges) != to:
                raise BadInput(f"malformed {kind} {arch_str!r}: node {to} needs {to} edges, got {part!r}")
            for frm, edge in enumerate(edges):
                op, sep, src = edge.partition("~")
                if not sep or src != str(frm):
                    raise BadInput(f"malformed {kind} {arch_str!r}: edge {edge!r} should read 'op~{frm}'")
                if op not in index:
                    raise BadInput(f"unknown operation {op!r} in arch string {arch_str!r} "
                                   f"(known: {', '.join(self.ops)})")
                cell.append(index[op])
        return tuple(cell)

    def parse_id(self, text: str) -> int:
        return int(self.indices_of(np.asarray([self.parse_cell(text)]))[0])

    def format_ids(self, indices: np.ndarray) -> list[str]:
        return [self.format_cell(c) for c in self.cells_of(indices)]

    def op_names(self, cell: Sequence[int]) -> tuple[str, ...]:
        return tuple(self.ops[int(o)] for o in cell)

    # -- features, graph, cost ----------------------------------------------------------------
    @property
    def kernel_types(self) -> tuple[str, ...]:
        from cbred_ray.spaces.cell.graph import KERNEL_TYPES

        return KERNEL_TYPES

    def features(self, canonical: np.ndarray, name: str) -> np.ndarray:
        from cbred_ray.spaces.cell.features import cell_features

        self.check_feature(name)
        return cell_features(self, self.cells_of(canonical), name)

    def computational_graph(self, index: int):
        from cbred_ray.spaces.cell.graph import cell_graph

        return cell_graph(self.cells_of(np.asarray([index]))[0], self)

    def costs(self, indices: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        return cell_costs(self, self.cells_of(indices), num_classes)

    @property
    def edit_distance(self) -> bool:
        """The cell edit distance is defined on NB201's cells: 4 nodes over its 5 operations."""
        return self.nodes == 4 and self.ops == KNOWN_OPS

    def edit_rows(self, canonical: np.ndarray) -> np.ndarray:
        if not self.edit_distance:
            return super().edit_rows(canonical)
        return self.cells_of(canonical)

    # -- networks -----------------------------------------------------------------------------
    def networks(self, canonical_index: int, width: int | None = None):
        """NB201's macro network around the cell (:class:`cbred_ray.spaces.cell.network.CellNetworks`)."""
        from cbred_ray.spaces.cell.network import CellNetworks

        cell = self.cells_of(np.asarray([canonical_index]))[0]
        return CellNetworks(self.op_names(cell), self.edges, **({} if width is None else {"channels": width}))


@dataclass(frozen=True)
class NB201Space(CellSpace):
    """NAS-Bench-201: the 4-node cell space over its 5 operations, with its benchmark table."""

    name: str = "nb201"
    Params: ClassVar[type[BaseModel]] = NoParams
    benchmark_table: ClassVar[str | None] = "cbred_ray.evaluate:tables/nb201_test_accuracy.parquet"
    report_budgets: ClassVar[tuple[float, ...]] = (500_000, 300_000)

    def __post_init__(self) -> None:
        if self.nodes != 4 or self.ops != KNOWN_OPS:
            raise BadInput("space 'nb201' is fixed (4 nodes, its 5 operations): use space 'cell'")
        super().__post_init__()

    @classmethod
    def from_params(cls, params: BaseModel) -> NB201Space:
        return cls()

    @property
    def id_kind(self) -> str:
        return "NB201 arch string"
