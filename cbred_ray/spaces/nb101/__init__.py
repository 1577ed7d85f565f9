"""NAS-Bench-101 as a :class:`~cbred_ray.spaces.base.Space`.

The space is the benchmark's 423,624 cells (:mod:`cbred_ray.spaces.nb101.encoding` enumerates them the
way the benchmark was made), or its cells of at most ``max_vertices`` vertices (a subspace for
tests: 2,532 cells of at most 5). An architecture's index is its position in the hash-sorted list
of the space's cells (the official file's order for the whole space); its identifier is the
module hash, and a spec in the official JSON form parses to it too. Cells are already pruned and
deduplicated by the hash (an isomorphism invariant), so every cell is its own canonical form.

The list of cells ships with the package (``data/nb101_cells.parquet``: hash and code of every
cell, no accuracy) so that a run does not spend minutes enumerating; ``benchmarks/nb101_space.py``
enumerates the space in parallel and checks that it gives exactly this list and the 423,624 hashes
of the benchmark, and a test re-enumerates the cells of up to 5 vertices against it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space
from cbred_ray.spaces.nb101 import encoding

CELLS_FILE = Path(__file__).parent / "data" / "nb101_cells.parquet"
"""Every NB101 cell: ``hash`` (its module hash) and ``code`` (:func:`encoding.encode`), sorted by hash."""


def read_cells(path: Path = CELLS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """(sorted hashes, codes) of the packaged list of cells."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.column("hash").to_numpy(zero_copy_only=False).astype("<U32"), table.column("code").to_numpy()


def write_cells(hashes: np.ndarray, codes: np.ndarray, path: Path = CELLS_FILE) -> None:
    """Write a list of cells as :func:`read_cells` reads it (``benchmarks/nb101_space.py --write``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"hash": pa.array(np.asarray(hashes, dtype=str)), "code": pa.array(codes, pa.int64())}),
                   path, compression="zstd")


class NB101Params(BaseModel):
    """The parameters of NAS-Bench-101 (``space: {name: nb101, max_vertices: 5}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_vertices: int = Field(encoding.MAX_VERTICES, ge=2, le=encoding.MAX_VERTICES,
                              description="cells of at most this many vertices (7: the whole benchmark)")


@dataclass(frozen=True, eq=False)
class NB101Space(Space):
    """The NB101 cells of at most ``max_vertices`` vertices, as ``hashes`` (sorted) and their ``codes``."""

    max_vertices: int
    hashes: np.ndarray = field(repr=False)
    codes: np.ndarray = field(repr=False)
    name = "nb101"
    id_column = "hash"
    network_kinds = ("standard", "small")
    network_methods = ("pre_pool", "cell_features")
    cost_width: ClassVar[int | None] = 128  # costs() is of the benchmark's network (stem 128), statistics run narrower
    Params: ClassVar[type[BaseModel]] = NB101Params
    benchmark_table: ClassVar[str | None] = "cbred_ray.evaluate:tables/nb101_test_accuracy.parquet"

    @classmethod
    def from_params(cls, params: BaseModel) -> NB101Space:
        return nb101_space(params.max_vertices)

    @property
    def size(self) -> int:
        return len(self.hashes)

    def __reduce__(self):  # a Ray worker rebuilds it from the package file, not from pickled arrays
        return nb101_space, (self.max_vertices,)

    # -- identifiers ----------------------------------------------------------------------------
    def parse_id(self, text: str) -> int:
        """The index of a module hash, or of a spec given in the official JSON form."""
        if isinstance(text, str) and text.lstrip().startswith("{"):
            text = encoding.hash_spec(text)
        return encoding.index_of(self.hashes, text)

    def parse_ids(self, texts) -> np.ndarray:
        texts = [encoding.hash_spec(t) if isinstance(t, str) and t.lstrip().startswith("{") else t for t in texts]
        for text in texts:
            encoding.parse_hash(text)
        return encoding.indices_of(self.hashes, texts)

    def member_mask(self, ids) -> np.ndarray:
        wanted = np.asarray(list(ids), dtype=object)
        malformed = ~pd.Series(wanted, dtype=object).astype(str).str.fullmatch("[0-9a-f]{32}").to_numpy()
        if malformed.any():
            encoding.parse_hash(wanted[malformed][0])
        return np.isin(wanted.astype("<U32"), self.hashes)

    def format_ids(self, indices: np.ndarray) -> list[str]:
        return self.hashes[self.check_indices(indices)].tolist()

    def spec(self, index: int) -> encoding.Spec:
        """The pruned cell at ``index``."""
        return encoding.decode(int(self.codes[self.check_indices([index])[0]]))

    def decoded(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`encoding.decode_many` of the cells at ``indices``."""
        return encoding.decode_many(self.codes[self.check_indices(indices)])

    def neighbours(self, index: int) -> np.ndarray:
        """The cells of the space one change away: one interior vertex's operation changed, or one edge of the
        upper triangle added or removed, then pruned as the benchmark prunes; changes that leave no valid cell
        (the output cut off, more than 9 edges) or a cell outside the space are dropped. Sorted. (Pruning makes
        the relation not always symmetric: a removed edge may take a vertex with it.)"""
        found = {self._changed(index, change) for change in self._changes(index)}
        return np.array(sorted(found - {None}), dtype=np.int64)

    def mutate(self, index: int, rng: np.random.Generator) -> int:
        """A neighbour drawn uniformly among the changes, tried in a random order until one gives a cell of the
        space (cheaper than listing the neighbourhood: each change is hashed); a cell drawn uniformly when none does."""
        changes = self._changes(index)
        for k in rng.permutation(len(changes)):
            found = self._changed(index, changes[k])
            if found is not None:
                return found
        return int(rng.integers(self.size))  # no single change gives a cell of the space (input -> output)

    def _changes(self, index: int) -> list[tuple[int, int, str | None]]:
        """Every single change of a cell: (vertex, -1, new operation) or (x, y, None), the edge x -> y flipped."""
        spec = self.spec(index)
        vertices = spec.num_vertices
        return ([(v, -1, op) for v in range(1, vertices - 1) for op in encoding.OPS if op != spec.ops[v]]
                + [(x, y, None) for x in range(vertices) for y in range(x + 1, vertices)])

    def _changed(self, index: int, change: tuple[int, int, str | None]) -> int | None:
        """The index of the cell after one change, or None when it is no cell of the space (or the same one)."""
        spec = self.spec(index)
        rows, ops = [list(row) for row in spec.matrix], list(spec.ops)
        first, second, op = change
        if op is None:
            rows[first][second] = 1 - rows[first][second]
        else:
            ops[first] = op
        try:
            cell = encoding.hash_spec({"matrix": rows, "ops": ops})
        except BadInput:
            return None
        position = int(np.searchsorted(self.hashes, cell))
        inside = position < len(self.hashes) and self.hashes[position] == cell and position != index
        return position if inside else None

    # -- equivalence, features, graph, cost -----------------------------------------------------
    def canonical_indices(self, indices: np.ndarray) -> np.ndarray:
        return self.check_indices(indices).copy()

    @property
    def kernel_types(self) -> tuple[str, ...]:
        from cbred_ray.spaces.nb101.graph import KERNEL_TYPES

        return KERNEL_TYPES

    def features(self, canonical: np.ndarray, name: str) -> np.ndarray:
        from cbred_ray.spaces.nb101 import graph

        self.check_feature(name)
        decoded = self.decoded(canonical)
        if name == "adjacency":
            return graph.adjacency(*decoded)
        counts = graph.kernel_counts(*decoded)
        return graph.op_usage(counts) if name == "op_usage" else counts.astype(np.float64)

    def computational_graph(self, index: int):
        from cbred_ray.spaces.nb101.graph import cell_graph

        spec = self.spec(index)
        return cell_graph(spec.array(), spec.ops)

    def costs(self, indices: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
        """Parameters and MACs of the benchmark's network (stem 128, 3 stacks of 3 cells)."""
        from cbred_ray.spaces.nb101.plan import nb101_costs

        size, matrices, labels = self.decoded(indices)
        names = np.array(encoding.OPS, dtype=object)
        ops = [[encoding.INPUT, *names[labels[i, 1 : v - 1]], encoding.OUTPUT] for i, v in enumerate(size.tolist())]
        cells = [matrices[i, :v, :v] for i, v in enumerate(size.tolist())]
        return nb101_costs(cells, ops, num_classes)

    def networks(self, canonical_index: int, width: int | None = None):
        """The benchmark's network around the cell (:class:`cbred_ray.spaces.nb101.network.NB101Networks`)."""
        from cbred_ray.spaces.nb101.network import NB101Networks

        spec = self.spec(canonical_index)
        return NB101Networks(tuple(map(tuple, np.asarray(spec.matrix).tolist())), tuple(spec.ops),
                             **({} if width is None else {"width": width}))


@cache
def nb101_space(max_vertices: int = encoding.MAX_VERTICES) -> NB101Space:
    """The NB101 space of cells of at most ``max_vertices`` vertices (7: the whole benchmark)."""
    if not 2 <= max_vertices <= encoding.MAX_VERTICES:
        raise BadInput(f"NB101 cells have 2 to {encoding.MAX_VERTICES} vertices, got max_vertices {max_vertices}")
    hashes, codes = read_cells()
    keep = encoding.vertices_of(codes) <= max_vertices
    return NB101Space(max_vertices, hashes[keep], codes[keep])
