"""DARTS genotypes as integers: the two identifier forms, the index, and the canonical form.

A DARTS cell (Liu et al., "DARTS: Differentiable Architecture Search", ICLR 2019) has two inputs (the
outputs of the two previous cells, nodes 0 and 1) and four intermediate nodes 2–5; node ``2 + j`` sums
two edges from two *distinct* earlier nodes, each edge one of :data:`OPS`, and the cell's output
concatenates nodes 2–5. An architecture is a normal cell and a reduction cell.

**The index.** A node's two edges are an unordered pair (their sum does not depend on the order the
genotype lists them in), held with the smaller input first. Node ``j`` has ``C(2 + j, 2)`` input pairs
and ``7 × 7`` operation pairs, so ``C(2 + j, 2) × 49`` choices (49, 147, 294, 490), and a cell is the
mixed-radix number of its four nodes, node 2 the most significant: :data:`CELLS` = 180 × 7^8 =
1,037,664,180 cells. An architecture's index is ``normal × CELLS + reduce``: :data:`SIZE` =
1,076,746,950,455,072,400 indices (about 1.08 × 10^18), each a different genotype up to the order of a
node's two edges.

**The canonical form.** Intermediate nodes can be renamed where the order allows: a permutation of
nodes 2–5 under which every edge still runs from a lower to a higher node gives the same computation
(the output concatenates all four, so only the order of its channels changes, which the next 1×1
convolution's random weights do not see). The canonical cell is the smallest index among the valid
renamings of a cell, each cell apart; :func:`distinct_cells` counts the classes (Burnside's lemma over
each input structure's automorphisms): 382,128,166 distinct cells, so about 1.46 × 10^17 distinct
architectures among the 1.08 × 10^18 indices.

**Identifiers.** Two text forms parse (:func:`parse`):

* the official ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3, 4, 5],
  reduce=[...], reduce_concat=[2, 3, 4, 5])``, ``(operation, input)`` pairs, two per node in node order;
* the compact form of NASLib and NAS-Bench-301's tools, ``[[(input, op), ...], [...]]``, eight
  ``(input, operation index)`` pairs per cell, operation indices into :data:`OPS` (NASLib's order).

The compact form is written (:func:`format_compact`), each node's pair with the smaller input first.
Everything is vectorised over arrays of architectures (``inputs`` and ``ops`` of shape (n, 2, 4, 2):
cell, node, edge).
"""
from __future__ import annotations

import ast
import itertools
import math
import re
from functools import lru_cache

import numpy as np

from cbred_ray.errors import BadInput

OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                        "dil_conv_3x3", "dil_conv_5x5")
"""The candidate operations of every edge, in NASLib's order (the compact form's operation indices)."""
NODES = 4
"""Intermediate nodes per cell."""
CELL_NAMES = ("normal", "reduce")
PAIRS: tuple[tuple[tuple[int, int], ...], ...] = tuple(tuple(itertools.combinations(range(2 + j), 2))
                                                       for j in range(NODES))
"""The input pairs of intermediate node ``j`` (node 2 + j), smaller input first, in index order."""
RADIX = tuple(len(pairs) * len(OPS) ** 2 for pairs in PAIRS)
CELLS = math.prod(RADIX)
"""Cells of one kind, up to the order of each node's two edges: 180 × 7^8 = 1,037,664,180."""
SIZE = CELLS * CELLS
"""Architectures (indices): a normal and a reduction cell, 1,076,746,950,455,072,400."""
CONCAT = [2, 3, 4, 5]


def _pair_lookup() -> np.ndarray:
    table = np.full((NODES, 6, 6), -1, dtype=np.int64)
    for j, pairs in enumerate(PAIRS):
        for k, (a, b) in enumerate(pairs):
            table[j, a, b] = k
    return table


_PAIR_INDEX = _pair_lookup()
_PAIR_OF = [np.array(pairs, dtype=np.int64) for pairs in PAIRS]


# -- index <-> arrays ------------------------------------------------------------------------------
def encode_cells(inputs: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """The cell codes of (n, 4, 2) ``inputs`` and ``ops`` (each node's edges in any order)."""
    inputs, ops = np.asarray(inputs, dtype=np.int64), np.asarray(ops, dtype=np.int64)
    swap = inputs[..., 0] > inputs[..., 1]
    low = np.where(swap, inputs[..., 1], inputs[..., 0])
    high = np.where(swap, inputs[..., 0], inputs[..., 1])
    op_low = np.where(swap, ops[..., 1], ops[..., 0])
    op_high = np.where(swap, ops[..., 0], ops[..., 1])
    code = np.zeros(len(inputs), dtype=np.int64)
    for j in range(NODES):
        pair = _PAIR_INDEX[j, low[:, j], high[:, j]]
        code = code * RADIX[j] + (pair * len(OPS) + op_low[:, j]) * len(OPS) + op_high[:, j]
    return code


def decode_cells(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, ops) of shape (n, 4, 2) of cell codes, each node's smaller input first."""
    codes = np.asarray(codes, dtype=np.int64).copy()
    inputs = np.zeros((len(codes), NODES, 2), dtype=np.int64)
    ops = np.zeros((len(codes), NODES, 2), dtype=np.int64)
    for j in reversed(range(NODES)):
        codes, digit = np.divmod(codes, RADIX[j])
        rest, ops[:, j, 1] = np.divmod(digit, len(OPS))
        pair, ops[:, j, 0] = np.divmod(rest, len(OPS))
        inputs[:, j] = _PAIR_OF[j][pair]
    return inputs, ops


def encode(inputs: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """Indices of (n, 2, 4, 2) ``inputs`` and ``ops`` (normal cell, then reduction cell)."""
    return encode_cells(inputs[:, 0], ops[:, 0]) * CELLS + encode_cells(inputs[:, 1], ops[:, 1])


def decode(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, ops) of shape (n, 2, 4, 2) of indices."""
    normal, reduce = np.divmod(np.asarray(indices, dtype=np.int64), CELLS)
    (ni, no), (ri, ro) = decode_cells(normal), decode_cells(reduce)
    return np.stack([ni, ri], axis=1), np.stack([no, ro], axis=1)


# -- canonical form --------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def renamings() -> tuple[np.ndarray, ...]:
    """Every permutation of the intermediate nodes, as a map of all six node ids (0 and 1 fixed)."""
    return tuple(np.array([0, 1, *(2 + p for p in perm)], dtype=np.int64)
                 for perm in itertools.permutations(range(NODES)))


def renamed(inputs: np.ndarray, ops: np.ndarray, mapping: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells of (n, 4, 2) arrays with node ``i`` renamed ``mapping[i]``: (inputs, ops, valid), valid where
    every edge still runs from a lower to a higher node."""
    order = np.argsort(mapping[2:])  # new node k is old node order[k]
    new_inputs = mapping[inputs[:, order]]
    valid = (new_inputs < (2 + np.arange(NODES))[None, :, None]).all(axis=(1, 2))
    return new_inputs, ops[:, order], valid


def canonical_cells(codes: np.ndarray) -> np.ndarray:
    """The canonical code of each cell code: the smallest code among its valid renamings."""
    inputs, ops = decode_cells(codes)
    best = np.asarray(codes, dtype=np.int64).copy()
    for mapping in renamings()[1:]:
        new_inputs, new_ops, valid = renamed(inputs, ops, mapping)
        if valid.any():
            code = encode_cells(new_inputs[valid], new_ops[valid])
            best[valid] = np.minimum(best[valid], code)
    return best


def canonical(indices: np.ndarray) -> np.ndarray:
    """The canonical index of each index (each cell canonical on its own)."""
    normal, reduce = np.divmod(np.asarray(indices, dtype=np.int64), CELLS)
    return canonical_cells(normal) * CELLS + canonical_cells(reduce)


def distinct_cells(num_ops: int = len(OPS)) -> int:
    """Classes of cells under renaming (over ``num_ops`` operations): Burnside's lemma on each input
    structure's automorphisms. 382,128,166 for DARTS's seven, so 382,128,166² ≈ 1.46 × 10^17 distinct
    architectures."""
    structures = {}
    for choice in itertools.product(*(range(len(p)) for p in PAIRS)):
        edges = frozenset((a, 2 + j) for j, k in enumerate(choice) for a in PAIRS[j][k])
        structures[edges] = sorted(edges)
    seen, total = set(), 0
    for edges, ordered in structures.items():
        images = []
        for mapping in renamings():
            image = frozenset((int(mapping[a]), int(mapping[b])) for a, b in edges)
            if all(a < b for a, b in image):
                images.append((mapping, image))
        key = min(tuple(sorted(image)) for _, image in images)
        if key in seen:
            continue
        seen.add(key)
        position = {edge: i for i, edge in enumerate(ordered)}
        fixed = []
        for mapping, image in images:
            if image != edges:
                continue
            target = [position[(int(mapping[a]), int(mapping[b]))] for a, b in ordered]
            cycles, visited = 0, set()
            for start in range(len(ordered)):
                if start not in visited:
                    cycles += 1
                    node = start
                    while node not in visited:
                        visited.add(node)
                        node = target[node]
            fixed.append(num_ops ** cycles)
        total += sum(fixed) // len(fixed)
    return total


# -- text forms ------------------------------------------------------------------------------------
_GENOTYPE = re.compile(r"^\s*Genotype\s*\((.*)\)\s*$", re.S)


def _cell_arrays(pairs: object, text: str, cell: str, compact: bool) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, ops) of one cell's eight pairs; BadInput names what is wrong."""
    form = "(input, op)" if compact else "(op, input)"
    if not isinstance(pairs, (list, tuple)) or len(pairs) != 2 * NODES:
        raise BadInput(f"DARTS genotype {text!r}: the {cell} cell needs {2 * NODES} {form} pairs")
    inputs = np.zeros((NODES, 2), dtype=np.int64)
    ops = np.zeros((NODES, 2), dtype=np.int64)
    for position, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise BadInput(f"DARTS genotype {text!r}: {pair!r} in the {cell} cell is not an {form} pair")
        source, op = pair if compact else pair[::-1]
        if compact:
            if not isinstance(op, int) or isinstance(op, bool) or not 0 <= op < len(OPS):
                raise BadInput(f"DARTS genotype {text!r}: operation index {op!r} in the {cell} cell is not "
                               f"in 0..{len(OPS) - 1}")
        elif op not in OPS:
            raise BadInput(f"DARTS genotype {text!r}: unknown operation {op!r} in the {cell} cell "
                           f"(known: {', '.join(OPS)})")
        node = position // 2
        if not isinstance(source, int) or isinstance(source, bool) or not 0 <= source < 2 + node:
            raise BadInput(f"DARTS genotype {text!r}: node {2 + node} of the {cell} cell cannot take input "
                           f"{source!r} (its inputs: 0..{1 + node})")
        inputs[node, position % 2] = source
        ops[node, position % 2] = op if compact else OPS.index(op)
    same = np.flatnonzero(inputs[:, 0] == inputs[:, 1])
    if len(same):
        raise BadInput(f"DARTS genotype {text!r}: node {2 + same[0]} of the {cell} cell takes input "
                       f"{inputs[same[0], 0]} twice (its two inputs must differ)")
    return inputs, ops


def _literal(text: str, what: str) -> object:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise BadInput(f"DARTS genotype {what!r}: not a readable {'Genotype(...)' if 'Genotype' in what else 'list'}"
                       ) from None


def parse(text: str) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, ops) of shape (2, 4, 2) of a genotype in either text form; BadInput names what is wrong."""
    if not isinstance(text, str):
        raise BadInput(f"a DARTS genotype is text, got {text!r}")
    match = _GENOTYPE.match(text)
    if match is None:
        value = _literal(text.strip(), text)
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise BadInput(f"DARTS genotype {text!r}: expected Genotype(...) or the compact [[(input, op), ...], "
                           "[...]] (a normal and a reduction cell)")
        cells = [_cell_arrays(value[i], text, CELL_NAMES[i], compact=True) for i in range(2)]
    else:
        fields = {}
        for part in re.finditer(r"(\w+)\s*=\s*(\[[^\]]*\]|range\(\s*(\d+)\s*,\s*(\d+)\s*\))", match.group(1)):
            fields[part.group(1)] = (_literal(part.group(2), text) if part.group(3) is None
                                     else list(range(int(part.group(3)), int(part.group(4)))))
        unknown = set(fields) - {"normal", "normal_concat", "reduce", "reduce_concat"}
        if unknown or "normal" not in fields or "reduce" not in fields:
            raise BadInput(f"DARTS genotype {text!r}: expected the fields normal, normal_concat, reduce, "
                           "reduce_concat")
        for name in ("normal_concat", "reduce_concat"):
            if name in fields and list(fields[name]) != CONCAT:
                raise BadInput(f"DARTS genotype {text!r}: {name} {list(fields[name])!r} is not {CONCAT} "
                               "(every DARTS cell concatenates its four nodes)")
        cells = [_cell_arrays(fields[name], text, name, compact=False) for name in CELL_NAMES]
    return np.stack([c[0] for c in cells]), np.stack([c[1] for c in cells])


def format_compact(inputs: np.ndarray, ops: np.ndarray) -> str:
    """The compact form of one architecture's (2, 4, 2) arrays, each node's smaller input first."""
    cells = []
    for c in range(2):
        pairs = []
        for j in range(NODES):
            order = np.argsort(inputs[c, j], kind="stable")
            pairs += [f"({int(inputs[c, j, e])}, {int(ops[c, j, e])})" for e in order]
        cells.append("[" + ", ".join(pairs) + "]")
    return "[" + ", ".join(cells) + "]"


def format_genotype(inputs: np.ndarray, ops: np.ndarray) -> str:
    """The official ``Genotype(...)`` text of one architecture's (2, 4, 2) arrays."""
    parts = []
    for c, name in enumerate(CELL_NAMES):
        pairs = []
        for j in range(NODES):
            order = np.argsort(inputs[c, j], kind="stable")
            pairs += [f"('{OPS[int(ops[c, j, e])]}', {int(inputs[c, j, e])})" for e in order]
        parts.append(f"{name}=[{', '.join(pairs)}], {name}_concat={CONCAT}")
    return f"Genotype({', '.join(parts)})"
