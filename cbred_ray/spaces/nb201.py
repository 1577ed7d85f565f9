"""The NAS-Bench-201 cell space.

A cell is a DAG over 4 nodes; node ``i`` sums the outputs of its incoming edges
``j -> i`` (``j < i``), giving 6 edges, each carrying one of 5 operations, so
5**6 = 15,625 cells. A cell is held as a tuple of 6 operation indices in the
order of the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, i.e. edges
(1<-0), (2<-0), (2<-1), (3<-0), (3<-1), (3<-2).

The index of a cell in this module is its base-5 number with edge 0 as the most
significant digit. It is this project's enumeration order, not the official
benchmark index (which only the benchmark file defines).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from cbred_ray.errors import BadInput

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
OP_INDEX = {name: i for i, name in enumerate(OPS)}
NONE, SKIP, CONV1, CONV3, POOL = range(5)
NUM_NODES = 4
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))  # (to, from)
NUM_EDGES = len(EDGES)
SPACE_SIZE = len(OPS) ** NUM_EDGES
_PLACES = len(OPS) ** np.arange(NUM_EDGES - 1, -1, -1, dtype=np.int64)

Cell = tuple[int, ...]


def parse(arch_str: str) -> Cell:
    """Parse an official NB201 string into a cell; BadInput names what is wrong."""
    if not isinstance(arch_str, str):
        raise BadInput(f"arch string must be text, got {arch_str!r}")
    nodes = arch_str.strip().split("+")
    if len(nodes) != NUM_NODES - 1:
        raise BadInput(f"malformed NB201 arch string {arch_str!r}: expected {NUM_NODES - 1} nodes joined by '+'")
    ops: list[int] = []
    for to, node in enumerate(nodes, start=1):
        if len(node) < 2 or not (node.startswith("|") and node.endswith("|")):
            raise BadInput(f"malformed NB201 arch string {arch_str!r}: node {node!r} must be wrapped in '|'")
        edges = node[1:-1].split("|")
        if len(edges) != to:
            raise BadInput(f"malformed NB201 arch string {arch_str!r}: node {to} needs {to} edges, got {node!r}")
        for frm, edge in enumerate(edges):
            name, sep, src = edge.partition("~")
            if not sep or src != str(frm):
                raise BadInput(f"malformed NB201 arch string {arch_str!r}: edge {edge!r} should read 'op~{frm}'")
            if name not in OP_INDEX:
                raise BadInput(f"unknown operation {name!r} in arch string {arch_str!r} (known: {', '.join(OPS)})")
            ops.append(OP_INDEX[name])
    return tuple(ops)


def format_cell(cell: Sequence[int]) -> str:
    """Format a cell as the official NB201 string (inverse of :func:`parse`)."""
    names = [OPS[int(o)] for o in cell]
    nodes, k = [], 0
    for to in range(1, NUM_NODES):
        nodes.append("|" + "|".join(f"{names[k + frm]}~{frm}" for frm in range(to)) + "|")
        k += to
    return "+".join(nodes)


def op_names(cell: Sequence[int]) -> tuple[str, ...]:
    return tuple(OPS[int(o)] for o in cell)


def index_of(cell: Sequence[int]) -> int:
    return int(np.dot(np.asarray(cell, dtype=np.int64), _PLACES))


def cells_of(indices: np.ndarray) -> np.ndarray:
    """Cells (n, 6) int8 for an array of indices."""
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= SPACE_SIZE):
        bad = idx[(idx < 0) | (idx >= SPACE_SIZE)][0]
        raise BadInput(f"architecture index {int(bad)} outside the NB201 space [0, {SPACE_SIZE})")
    return ((idx[:, None] // _PLACES[None, :]) % len(OPS)).astype(np.int8)


def indices_of(cells: np.ndarray) -> np.ndarray:
    return np.asarray(cells, dtype=np.int64) @ _PLACES


def cell_range(start: int, stop: int) -> np.ndarray:
    """The cells with indices in [start, stop), as an (n, 6) int8 array."""
    return cells_of(np.arange(max(start, 0), min(stop, SPACE_SIZE), dtype=np.int64))


def shard_ranges(shard_size: int, size: int = SPACE_SIZE) -> Iterator[tuple[int, int]]:
    """Index ranges covering [0, size) in shards of at most ``shard_size``."""
    if shard_size < 1:
        raise BadInput(f"shard size must be positive, got {shard_size}")
    for start in range(0, size, shard_size):
        yield start, min(start + shard_size, size)
