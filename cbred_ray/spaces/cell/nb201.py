"""The NAS-Bench-201 cell space.

A cell is a DAG over 4 nodes; node ``i`` sums the outputs of its incoming edges
``j -> i`` (``j < i``), giving 6 edges, each carrying one of 5 operations, so
5**6 = 15,625 cells. A cell is held as a tuple of 6 operation indices in the
order of the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, i.e. edges
(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).

The index of a cell in this module is its base-5 number with edge 0 as the most
significant digit. It is this project's enumeration order, not the official
benchmark index (which only the benchmark file defines).

NB201 is the 4-node member of the cell spaces (:mod:`cbred_ray.spaces.cell`); this module names
its constants and keeps the short function names the rest of the code uses.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from cbred_ray.spaces.cell import KNOWN_OPS, NB201Space

OPS: tuple[str, ...] = KNOWN_OPS
OP_INDEX = {name: i for i, name in enumerate(OPS)}
NONE, SKIP, CONV1, CONV3, POOL = range(5)
NUM_NODES = 4
SPACE = NB201Space()
"""NAS-Bench-201 (:class:`~cbred_ray.spaces.cell.NB201Space`): every function below is its method."""
EDGES: tuple[tuple[int, int], ...] = SPACE.edges  # (to, from)
NUM_EDGES = SPACE.num_edges
SPACE_SIZE = SPACE.size

Cell = tuple[int, ...]


def parse(arch_str: str) -> Cell:
    """Parse an official NB201 string into a cell; BadInput names what is wrong."""
    return SPACE.parse_cell(arch_str)


def format_cell(cell: Sequence[int]) -> str:
    """Format a cell as the official NB201 string (inverse of :func:`parse`)."""
    return SPACE.format_cell(cell)


def op_names(cell: Sequence[int]) -> tuple[str, ...]:
    return SPACE.op_names(cell)


def index_of(cell: Sequence[int]) -> int:
    return int(SPACE.indices_of(np.asarray(cell))[0])


def cells_of(indices: np.ndarray) -> np.ndarray:
    """Cells (n, 6) int8 for an array of indices."""
    return SPACE.cells_of(indices)


def indices_of(cells: np.ndarray) -> np.ndarray:
    return SPACE.indices_of(cells)


def cell_range(start: int, stop: int) -> np.ndarray:
    """The cells with indices in [start, stop), as an (n, 6) int8 array."""
    return cells_of(np.arange(max(start, 0), min(stop, SPACE_SIZE), dtype=np.int64))


def shard_ranges(shard_size: int, size: int = SPACE_SIZE) -> Iterator[tuple[int, int]]:
    """Index ranges covering [0, size) in shards of at most ``shard_size``."""
    return SPACE.ranges(shard_size, size)
