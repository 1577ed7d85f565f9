"""The NAS-Bench-101 cell space.

A cell (the benchmark's "module") is a DAG of at most 7 vertices and at most 9 edges,
given by a V x V strictly upper-triangular 0/1 adjacency matrix and V operation labels:
vertex 0 is ``input``, vertex V-1 is ``output``, and every vertex between carries one of
:data:`OPS`. Everything here follows the official code, google-research/nasbench:

* ``model_spec.py``: a spec is pruned of every vertex not on a path from the input to
  the output (``ModelSpec._prune``); a spec whose output the input does not reach is
  invalid. The benchmark's limits (7 vertices, 9 edges) are checked on the pruned spec,
  as ``api.py`` does.
* ``graph_util.py``: the space's identifier of a cell is its module hash,
  ``hash_module(matrix, labeling)`` with the labels -1 (input), the index of the
  operation in :data:`OPS` (the official ``available_ops`` order) and -2 (output). It is
  invariant under renaming the vertices, so isomorphic cells share one hash.
* ``generate_graphs.py``: the space is made by going through V = 2 .. 7, every bit
  pattern of the upper triangle (bit ``y*(y-1)//2 + x`` is the edge x -> y, the
  official ``gen_is_edge_fn``), keeping the "full DAGs" (``is_full_dag``: every vertex
  but the output has an out-edge, every vertex but the input an in-edge) with at most
  9 edges, times every labelling of the V-2 interior vertices by the 3 operations
  (``itertools.product`` order), and keeping the first graph of each hash. That is
  1,293,208 labelled graphs and 423,624 hashes; the official file is sorted by hash,
  and the index of a cell in this module is its position in that order.

A pruned cell is packed into one integer, its *code*: ``V << 29 | bits << 8 | labels``,
with ``bits`` the edge bit pattern above and ``labels`` the interior operation indices as
a base-3 number, vertex 1 the most significant digit. Codes therefore sort in the
enumeration order of ``generate_graphs.py``, and "the first graph seen" of a hash is the
one with the smallest code.

The enumeration is cut into chunks (V and a range of bit patterns) that can run
anywhere (a Ray task each); :func:`merge_chunks` makes the same result from them in any
order. A chunk hashes only the labelled graphs that are the first (smallest code) of
their isomorphism class, found with vectorised numpy over interior-vertex renamings;
since the hash is an isomorphism invariant, this yields exactly what hashing every
graph does (see :func:`enumerate_chunk`), for a third of the MD5 work.

Nothing here reads the benchmark's accuracies; the module needs only numpy.
"""
from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from cbred_ray.errors import BadInput

try:  # CPython's built-in MD5: the same digests as hashlib.md5 (OpenSSL), faster on short strings
    from _md5 import md5 as _md5
except ImportError:  # pragma: no cover - Python builds without the built-in module
    from hashlib import md5 as _md5

OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
"""Interior operations in the official ``available_ops`` order; a label for hashing is the index here."""
OP_INDEX = {name: i for i, name in enumerate(OPS)}
INPUT = "input"
OUTPUT = "output"
INPUT_LABEL, OUTPUT_LABEL = -1, -2
NO_VERTEX = -3
"""The label :func:`decode_many` puts past the output of a cell of fewer than 7 vertices."""
MAX_VERTICES = 7
MAX_EDGES = 9
SPACE_SIZE = 423_624
LABELLED_GRAPHS = 1_293_208
"""Labelled full DAGs that ``generate_graphs.py`` goes through before deduplication by hash."""
CELLS_BY_VERTICES = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}
"""Distinct cells (hashes) of each pruned vertex count, as the benchmark has them."""

_LABEL_BITS = 8  # 3**5 = 243 labellings fit in 8 bits
_EDGE_BITS = MAX_VERTICES * (MAX_VERTICES - 1) // 2  # 21
_CODE_SHIFT = _EDGE_BITS + _LABEL_BITS  # 29
_HASH = re.compile(r"[0-9a-f]{32}")


def _pairs(vertices: int) -> int:
    return vertices * (vertices - 1) // 2


def _bit(x: int, y: int) -> int:
    """Bit of the edge x -> y (x < y) in an edge pattern, as the official ``gen_is_edge_fn`` numbers it."""
    return y * (y - 1) // 2 + x


# -- specs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """A cell: a V x V adjacency matrix (tuple of V tuples of 0/1; a numpy array or nested
    lists are converted) and its V operation names, ``input`` first and ``output`` last.

    A Spec from :func:`parse_spec` or :func:`decode` is valid and pruned; the constructor
    itself only normalises types (use :func:`parse_spec` to check a spec)."""

    matrix: tuple[tuple[int, ...], ...]
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        rows = self.matrix.tolist() if isinstance(self.matrix, np.ndarray) else self.matrix
        object.__setattr__(self, "matrix", tuple(tuple(int(e) for e in row) for row in rows))
        object.__setattr__(self, "ops", tuple(str(op) for op in self.ops))

    @property
    def num_vertices(self) -> int:
        return len(self.ops)

    @property
    def num_edges(self) -> int:
        return sum(map(sum, self.matrix))

    @property
    def labels(self) -> list[int]:
        """The official hashing labels: -1, the index in :data:`OPS` of each interior op, -2."""
        return labelling(self.ops)

    def array(self) -> np.ndarray:
        """The adjacency matrix as a V x V int8 array."""
        return np.array(self.matrix, dtype=np.int8).reshape(self.num_vertices, self.num_vertices)

    def to_dict(self) -> dict:
        return {"matrix": [list(row) for row in self.matrix], "ops": list(self.ops)}

    def to_json(self) -> str:
        """The official form, ``{"matrix": [[...], ...], "ops": [...]}``, as one line of JSON."""
        return json.dumps(self.to_dict())


def labelling(ops: Sequence[str]) -> list[int]:
    """Hashing labels of a spec's ops, as ``ModelSpec.hash_spec`` makes them: -1, OPS indices, -2."""
    unknown = [op for op in ops[1:-1] if op not in OP_INDEX]
    if unknown:
        raise BadInput(f"unknown NB101 operation {unknown[0]!r} (known: {', '.join(OPS)})")
    return [INPUT_LABEL, *(OP_INDEX[op] for op in ops[1:-1]), OUTPUT_LABEL]


def _is_bit(value: object) -> bool:
    return isinstance(value, (bool, int, np.integer)) and value in (0, 1)


def parse_spec(obj: Mapping | str | Spec) -> Spec:
    """Check a spec, ``{"matrix": [[...]], "ops": [...]}`` or its JSON text, and return it pruned.

    The matrix must be square, 0/1, strictly upper-triangular, with at most 7 vertices and
    one op per vertex (``input`` first, ``output`` last, :data:`OPS` between). It is pruned
    as ``ModelSpec._prune`` does: vertices not on an input -> output path are dropped, and
    a spec whose output the input does not reach is refused; the pruned spec may have at
    most 9 edges. BadInput names what is wrong."""
    if isinstance(obj, Spec):
        obj = obj.to_dict()
    if isinstance(obj, str):
        try:
            obj = json.loads(obj)
        except ValueError:
            raise BadInput(f"NB101 spec is not valid JSON: {obj[:120]!r}") from None
    if not isinstance(obj, Mapping) or "matrix" not in obj or "ops" not in obj:
        raise BadInput(f'an NB101 spec must be {{"matrix": [[...]], "ops": [...]}}, got {str(obj)[:120]!r}')
    matrix, ops = obj["matrix"], obj["ops"]
    if isinstance(matrix, np.ndarray):
        matrix = matrix.tolist()
    if not isinstance(matrix, Sequence) or isinstance(matrix, str) or not all(
            isinstance(row, Sequence) and not isinstance(row, str) for row in matrix):
        raise BadInput(f"NB101 matrix must be a list of rows, got {matrix!r}")
    size = len(matrix)
    for i, row in enumerate(matrix):
        if len(row) != size:
            raise BadInput(f"NB101 matrix must be square: row {i} has {len(row)} entries in a {size}-row matrix")
    if not 2 <= size <= MAX_VERTICES:
        raise BadInput(f"NB101 spec has {size} vertices; a cell has 2 to {MAX_VERTICES}")
    for i, row in enumerate(matrix):
        for j, entry in enumerate(row):
            if not _is_bit(entry):
                raise BadInput(f"NB101 matrix entry [{i}][{j}] is {entry!r}; entries must be 0 or 1")
            if entry and j <= i:
                raise BadInput(f"NB101 matrix entry [{i}][{j}] is 1 on or below the diagonal; "
                               "the matrix must be strictly upper-triangular")
    if isinstance(ops, str) or not isinstance(ops, Sequence) or not all(isinstance(op, str) for op in ops):
        raise BadInput(f"NB101 ops must be a list of operation names, got {ops!r}")
    if len(ops) != size:
        raise BadInput(f"NB101 spec has {len(ops)} ops for a {size}-vertex matrix")
    if ops[0] != INPUT:
        raise BadInput(f"NB101 spec's first op must be {INPUT!r}, got {ops[0]!r}")
    if ops[-1] != OUTPUT:
        raise BadInput(f"NB101 spec's last op must be {OUTPUT!r}, got {ops[-1]!r}")
    for v, op in enumerate(ops[1:-1], start=1):
        if op not in OP_INDEX:
            raise BadInput(f"unknown NB101 operation {op!r} at vertex {v} (known: {', '.join(OPS)})")
    rows = [[int(e) for e in row] for row in matrix]
    keep = _on_paths(rows)
    if not keep:
        raise BadInput(f"NB101 spec's output is not reachable from its input: matrix {json.dumps(rows)}")
    spec = Spec(tuple(tuple(rows[i][j] for j in keep) for i in keep), tuple(ops[i] for i in keep))
    if spec.num_edges > MAX_EDGES:
        raise BadInput(f"NB101 spec has {spec.num_edges} edges after pruning; a cell has at most {MAX_EDGES}")
    return spec


def _on_paths(rows: list[list[int]]) -> list[int]:
    """Vertices on some input -> output path, ascending (``ModelSpec._prune``); empty when the
    output is not reachable from the input."""
    size = len(rows)
    forward, frontier = {0}, [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, size):
            if rows[top][v] and v not in forward:
                forward.add(v)
                frontier.append(v)
    backward, frontier = {size - 1}, [size - 1]
    while frontier:
        top = frontier.pop()
        for v in range(top):
            if rows[v][top] and v not in backward:
                backward.add(v)
                frontier.append(v)
    return sorted(forward & backward)


# -- the module hash ---------------------------------------------------------------------------
@cache
def _first_hash(out_degree: int, in_degree: int, label: int) -> str:
    return _md5(str((out_degree, in_degree, label)).encode()).hexdigest()


def _neighbour_lists(rows: Sequence[Sequence[int]]) -> tuple[list[list[int]], list[list[int]]]:
    size = len(rows)
    ins = [[w for w in range(size) if rows[w][v]] for v in range(size)]
    outs = [[w for w in range(size) if rows[v][w]] for v in range(size)]
    return ins, outs


def _hash_labellings(ins: list[list[int]], outs: list[list[int]], labellings: Iterable[Sequence[int]]) -> list[str]:
    """``graph_util.hash_module`` of one matrix (its in- and out-neighbour lists) under each labelling.

    Per vertex and round: md5 of the sorted in-neighbour hashes joined, ``|``, the sorted
    out-neighbour hashes joined, ``|``, its own hash; V rounds from md5(str((out-degree,
    in-degree, label))); the result is md5 of ``str(sorted(hashes))``. The neighbour
    lookups are prepared once per matrix (no sort for a single neighbour)."""
    size = len(ins)
    first = [[_first_hash(len(outs[v]), len(ins[v]), label) for label in range(-2, 3)] for v in range(size)]
    prepared = []
    for v in range(size):
        i, o = ins[v], outs[v]
        prepared.append((v, _getter(i), i[0] if len(i) == 1 else None, _getter(o), o[0] if len(o) == 1 else None))
    rounds = range(size)
    join = "".join
    result = []
    for labels in labellings:
        h = [table[label + 2] for table, label in zip(first, labels, strict=True)]
        for _ in rounds:
            new = []
            for v, many_in, one_in, many_out, one_out in prepared:
                a = join(sorted(many_in(h))) if many_in else "" if one_in is None else h[one_in]
                b = join(sorted(many_out(h))) if many_out else "" if one_out is None else h[one_out]
                new.append(_md5(f"{a}|{b}|{h[v]}".encode()).hexdigest())
            h = new
        h.sort()
        result.append(_md5(("['" + "', '".join(h) + "']").encode()).hexdigest())  # == str(sorted(hashes))
    return result


def _getter(neighbours: list[int]) -> itemgetter | None:
    """Fetches the hashes of two or more neighbours as a tuple (None for fewer)."""
    return itemgetter(*neighbours) if len(neighbours) > 1 else None


def hash_module(matrix: Sequence[Sequence[int]] | np.ndarray, labeling: Sequence[int]) -> str:
    """Exactly the official ``graph_util.hash_module(matrix, labeling)`` (of the matrix as given, unpruned)."""
    rows = np.asarray(matrix).tolist()
    if len(labeling) != len(rows) or any(len(row) != len(rows) for row in rows):
        raise BadInput(f"hash_module needs a square matrix and one label per vertex, got {len(rows)} rows "
                       f"and {len(labeling)} labels")
    ins, outs = _neighbour_lists(rows)
    return _hash_labellings(ins, outs, [tuple(int(label) for label in labeling)])[0]


def hash_spec(spec: Spec | Mapping | str) -> str:
    """The module hash of a spec (``ModelSpec.hash_spec(OPS)``). A dict or JSON text is parsed (and
    pruned) first; a Spec is hashed as it is (those from :func:`parse_spec` and :func:`decode` are pruned)."""
    if not isinstance(spec, Spec):
        spec = parse_spec(spec)
    return hash_module(spec.matrix, spec.labels)


def is_module_hash(text: object) -> bool:
    """True for a module hash: 32 lowercase hexadecimal characters."""
    return isinstance(text, str) and _HASH.fullmatch(text) is not None


def parse_hash(text: object) -> str:
    """A module hash (surrounding white space removed); BadInput for anything else."""
    if isinstance(text, str) and is_module_hash(text.strip()):
        return text.strip()
    raise BadInput(f"not an NB101 module hash (32 lowercase hex digits): {text!r}")


# -- codes -------------------------------------------------------------------------------------
def _full_dag_mask(vertices: int, bits: np.ndarray) -> np.ndarray:
    """Vectorised ``is_full_dag`` and the edge limit over an array of edge patterns."""
    keep = np.ones(bits.shape, dtype=bool)
    count = np.zeros(bits.shape, dtype=np.int64)
    for i in range(_pairs(vertices)):
        count += (bits >> i) & 1
    keep &= count <= MAX_EDGES
    for v in range(vertices - 1):  # an out-edge from every vertex but the output
        keep &= (bits & sum(1 << _bit(v, y) for y in range(v + 1, vertices))) != 0
    for v in range(1, vertices):  # an in-edge into every vertex but the input
        keep &= (bits & sum(1 << _bit(x, v) for x in range(v))) != 0
    return keep


def encode(spec: Spec | Mapping | str) -> int:
    """The code of a pruned cell (see the module docstring). A dict or JSON text is parsed (and
    pruned) first; a Spec that is not valid and pruned is refused."""
    checked = parse_spec(spec)
    if isinstance(spec, Spec) and checked != spec:
        raise BadInput(f"NB101 spec is not pruned (encode its parse_spec form): {spec.to_json()}")
    size = checked.num_vertices
    bits = sum(1 << _bit(x, y) for y in range(size) for x in range(y) if checked.matrix[x][y])
    labels = 0
    for label in checked.labels[1:-1]:
        labels = labels * 3 + label
    return size << _CODE_SHIFT | bits << _LABEL_BITS | labels


def decode(code: int) -> Spec:
    """The pruned cell of a code (inverse of :func:`encode`); BadInput for a number that is not one."""
    if isinstance(code, bool) or not isinstance(code, (int, np.integer)):
        raise BadInput(f"an NB101 cell code must be an integer, got {code!r}")
    code = int(code)
    size, bits, labels = code >> _CODE_SHIFT, (code >> _LABEL_BITS) & ((1 << _EDGE_BITS) - 1), code & 0xFF
    if (code < 0 or not 2 <= size <= MAX_VERTICES or bits >> _pairs(size) or labels >= 3 ** (size - 2)
            or not _full_dag_mask(size, np.array([bits], dtype=np.int64))[0]):
        raise BadInput(f"{code} is not the code of a pruned NB101 cell")
    matrix = tuple(tuple(int(x < y and (bits >> _bit(x, y)) & 1) for y in range(size)) for x in range(size))
    digits = [(labels // 3 ** (size - 2 - v)) % 3 for v in range(1, size - 1)]
    return Spec(matrix, (INPUT, *(OPS[d] for d in digits), OUTPUT))


def vertices_of(codes: np.ndarray) -> np.ndarray:
    """The vertex count of each code (int64), without decoding the cells."""
    return np.asarray(codes, dtype=np.int64) >> _CODE_SHIFT


def decode_many(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectorised :func:`decode`: ``(vertices (n,) int8, matrices (n, 7, 7) int8, labels (n, 7) int8)``.

    Matrices are zero past the cell's V vertices; labels are the hashing labels (-1 input,
    index in :data:`OPS`, -2 output) and :data:`NO_VERTEX` past the output."""
    codes = np.asarray(codes, dtype=np.int64).ravel()
    size = codes >> _CODE_SHIFT
    bits = (codes >> _LABEL_BITS) & ((1 << _EDGE_BITS) - 1)
    labels = codes & 0xFF
    interior = np.clip(size - 2, 0, MAX_VERTICES - 2)
    ok = (codes >= 0) & (size >= 2) & (size <= MAX_VERTICES)
    ok &= (bits >> np.where(ok, size * (size - 1) // 2, 0)) == 0
    ok &= labels < 3 ** interior
    for v in range(2, MAX_VERTICES + 1):
        rows = ok & (size == v)
        ok[rows] = _full_dag_mask(v, bits[rows])
    if not ok.all():
        raise BadInput(f"{int(codes[~ok][0])} is not the code of a pruned NB101 cell")
    n = len(codes)
    matrices = np.zeros((n, MAX_VERTICES, MAX_VERTICES), dtype=np.int8)
    for y in range(1, MAX_VERTICES):
        for x in range(y):
            matrices[:, x, y] = (bits >> _bit(x, y)) & 1
    out = np.full((n, MAX_VERTICES), NO_VERTEX, dtype=np.int8)
    out[:, 0] = INPUT_LABEL
    for v in range(1, MAX_VERTICES - 1):
        inside = v <= interior
        power = 3 ** np.where(inside, interior - v, 0)
        out[inside, v] = ((labels // power) % 3)[inside]
    out[np.arange(n), size - 1] = OUTPUT_LABEL
    return size.astype(np.int8), matrices, out


def encode_many(vertices: np.ndarray, matrices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Vectorised :func:`encode` of the arrays :func:`decode_many` returns (int64 codes).

    Only the upper-triangle entries within each cell's V vertices are read; it does not check
    that the cells are pruned (decode the codes to check)."""
    size = np.asarray(vertices, dtype=np.int64).ravel()
    matrices = np.asarray(matrices, dtype=np.int64).reshape(len(size), MAX_VERTICES, MAX_VERTICES)
    labels = np.asarray(labels, dtype=np.int64).reshape(len(size), MAX_VERTICES)
    if len(size) and (size.min() < 2 or size.max() > MAX_VERTICES):
        raise BadInput(f"an NB101 cell has 2 to {MAX_VERTICES} vertices, got {int(size[(size < 2) | (size > 7)][0])}")
    bits = np.zeros(len(size), dtype=np.int64)
    for y in range(1, MAX_VERTICES):
        for x in range(y):
            bits |= (matrices[:, x, y] & (y < size)) << _bit(x, y)
    interior = size - 2
    number = np.zeros(len(size), dtype=np.int64)
    for v in range(1, MAX_VERTICES - 1):
        inside = v <= interior
        digit = labels[:, v]
        if (inside & ((digit < 0) | (digit >= len(OPS)))).any():
            raise BadInput(f"interior label {int(digit[inside & ((digit < 0) | (digit >= 3))][0])} is not an "
                           f"index in OPS (0 to {len(OPS) - 1})")
        number = np.where(inside, number * 3 + digit, number)
    return size << _CODE_SHIFT | bits << _LABEL_BITS | number


# -- enumeration -------------------------------------------------------------------------------
class Chunk(NamedTuple):
    """A part of the enumeration: the edge patterns [start, stop) of cells of ``vertices`` vertices."""

    vertices: int
    start: int
    stop: int


def chunks(max_vertices: int = MAX_VERTICES, chunk_bits: int = 12) -> list[Chunk]:
    """Chunks covering the space up to ``max_vertices``, in enumeration order: for each V, the
    edge patterns in ranges of 2**chunk_bits.

    The lower half of each V's 2**(V(V-1)/2) patterns is left out: it holds no full DAG,
    since vertex V-2 can only have an out-edge to the output, the pattern's top bit."""
    if not 2 <= max_vertices <= MAX_VERTICES:
        raise BadInput(f"max_vertices must be 2 to {MAX_VERTICES}, got {max_vertices}")
    if chunk_bits < 0:
        raise BadInput(f"chunk_bits must be 0 or more, got {chunk_bits}")
    out = []
    for vertices in range(2, max_vertices + 1):
        top = _bit(vertices - 2, vertices - 1)
        low, total, step = 1 << top, 1 << (top + 1), 1 << chunk_bits
        out.extend(Chunk(vertices, start, min(start + step, total)) for start in range(low, total, step))
    return out


def _check_chunk(vertices: int, start: int, stop: int) -> None:
    if not 2 <= vertices <= MAX_VERTICES:
        raise BadInput(f"an NB101 chunk needs 2 to {MAX_VERTICES} vertices, got {vertices}")
    if not 0 <= start <= stop <= 1 << _pairs(vertices):
        raise BadInput(f"edge pattern range [{start}, {stop}) is outside [0, {1 << _pairs(vertices)}) "
                       f"for {vertices} vertices")


def full_dags(vertices: int, start: int, stop: int) -> np.ndarray:
    """The edge patterns in [start, stop) that ``generate_graphs.py`` keeps (full DAGs, at most 9 edges), int64."""
    _check_chunk(vertices, start, stop)
    bits = np.arange(start, stop, dtype=np.int64)
    return bits[_full_dag_mask(vertices, bits)]


def labelled_graphs(vertices: int, start: int, stop: int) -> int:
    """How many labelled graphs ``generate_graphs.py`` hashes in a chunk (kept patterns x 3**(V-2))."""
    return len(full_dags(vertices, start, stop)) * len(OPS) ** (vertices - 2)


@cache
def _labellings(vertices: int) -> tuple[tuple[int, ...], ...]:
    """Every labelling of a V-vertex cell in ``itertools.product`` order: its index is the code's label number."""
    return tuple((INPUT_LABEL, *labels, OUTPUT_LABEL)
                 for labels in itertools.product(range(len(OPS)), repeat=vertices - 2))


@cache
def _renamings(vertices: int) -> tuple[tuple[int, tuple[tuple[int, int], ...], np.ndarray], ...]:
    """For every renaming of the interior vertices but the identity: the edge bits it would turn
    backwards, the (old bit, new bit) of every other edge, and the label number each labelling
    gets once renamed."""
    interior = list(range(1, vertices - 1))
    digits = np.array([labels[1:-1] for labels in _labellings(vertices)], dtype=np.int64).reshape(
        len(_labellings(vertices)), len(interior))
    out = []
    for perm in itertools.permutations(interior):
        if list(perm) == interior:
            continue
        to = [0, *perm, vertices - 1]
        backwards = sum(1 << _bit(x, y) for y in range(vertices) for x in range(y) if to[x] > to[y])
        moves = tuple((_bit(x, y), _bit(to[x], to[y])) for y in range(vertices) for x in range(y) if to[x] < to[y])
        weights = np.array([3 ** (vertices - 2 - to[v]) for v in interior], dtype=np.int64)
        out.append((backwards, moves, digits @ weights))
    return tuple(out)


def first_of_class(vertices: int, patterns: np.ndarray) -> np.ndarray:
    """Boolean (patterns, 3**(V-2)): is labelled graph (pattern, labelling) the first of its
    isomorphism class in enumeration order, i.e. does no renaming of its interior vertices
    that keeps every edge forward give a smaller code? (Input and output keep their places:
    their labels are their own.)"""
    patterns = np.asarray(patterns, dtype=np.int64)
    number = np.arange(len(OPS) ** (vertices - 2))
    first = np.ones((len(patterns), len(number)), dtype=bool)
    for backwards, moves, renamed in _renamings(vertices):
        valid = (patterns & backwards) == 0
        moved = np.zeros_like(patterns)
        for old, new in moves:
            moved |= ((patterns >> old) & 1) << new
        earlier_matrix = valid & (moved < patterns)
        same_matrix = valid & (moved == patterns)  # an automorphism: only the labels move
        first &= ~(earlier_matrix[:, None] | (same_matrix[:, None] & (renamed < number)[None, :]))
    return first


def enumerate_chunk(vertices: int, start: int, stop: int, exhaustive: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Hashes (``<U32`` array) and codes (int64, ascending, i.e. in enumeration order) of one chunk.

    By default it returns the labelled graphs of the chunk that are the first of their
    isomorphism class (:func:`first_of_class`), each hashed once: every class has one
    first graph, in one chunk, so the chunks covering the space give every hash once,
    with the code of the first graph ``generate_graphs.py`` sees with it. That is what the
    official script adds to its table while it goes through this chunk (the script found
    no two non-isomorphic graphs of the space with one hash; :func:`merge_chunks` would
    drop such a repeat anyway).

    With ``exhaustive`` it does what the official script does within the chunk: hashes every
    labelled graph and keeps the first of each hash, including hashes first seen in earlier
    chunks (three times the MD5 work on the whole space; :func:`merge_chunks` gives the same
    result from either)."""
    patterns = full_dags(vertices, start, stop)
    labellings = _labellings(vertices)
    keep = np.ones((len(patterns), len(labellings)), dtype=bool) if exhaustive else first_of_class(vertices, patterns)
    seen: dict[str, int] = {}
    for pattern, row in zip(patterns.tolist(), keep, strict=True):
        numbers = np.flatnonzero(row).tolist()
        if not numbers:
            continue
        rows = [[int(x < y and (pattern >> _bit(x, y)) & 1) for y in range(vertices)] for x in range(vertices)]
        ins, outs = _neighbour_lists(rows)
        base = vertices << _CODE_SHIFT | pattern << _LABEL_BITS
        for number, digest in zip(numbers, _hash_labellings(ins, outs, [labellings[k] for k in numbers]), strict=True):
            seen.setdefault(digest, base | number)
    return np.array(list(seen), dtype="<U32"), np.fromiter(seen.values(), dtype=np.int64, count=len(seen))


def merge_chunks(results: Iterable[tuple[Sequence[str] | np.ndarray, Sequence[int] | np.ndarray]]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Merge chunk results given in any order: one row per hash, the smallest code (the first
    graph in enumeration order) of each, sorted by hash (the official file's order)."""
    results = list(results)
    hashes = np.concatenate([np.asarray(h, dtype="<U32") for h, _ in results]) if results else np.array([], "<U32")
    codes = np.concatenate([np.asarray(c, dtype=np.int64) for _, c in results]) if results else np.array([], np.int64)
    if len(hashes) != len(codes):
        raise BadInput(f"chunk results have {len(hashes)} hashes for {len(codes)} codes")
    order = np.lexsort((codes, hashes))
    hashes, codes = hashes[order], codes[order]
    first = np.ones(len(hashes), dtype=bool)
    first[1:] = hashes[1:] != hashes[:-1]
    return hashes[first], codes[first]


def enumerate_space(max_vertices: int = MAX_VERTICES, chunk_bits: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """The whole space serially: ``merge_chunks`` of every chunk (sorted hashes, their codes)."""
    return merge_chunks(enumerate_chunk(*chunk) for chunk in chunks(max_vertices, chunk_bits))


# -- index <-> hash ----------------------------------------------------------------------------
def index_of(sorted_hashes: np.ndarray, text: str) -> int:
    """Space index of a hash: its position in the hash-sorted array from :func:`merge_chunks`."""
    digest = parse_hash(text)
    position = int(np.searchsorted(sorted_hashes, digest))
    if position == len(sorted_hashes) or sorted_hashes[position] != digest:
        raise BadInput(f"module hash {digest} is not in the NB101 space")
    return position


def indices_of(sorted_hashes: np.ndarray, hashes: Sequence[str] | np.ndarray) -> np.ndarray:
    """Vectorised :func:`index_of` (int64); BadInput names the first hash not in the space."""
    wanted = np.asarray(hashes, dtype="<U32")
    positions = np.searchsorted(sorted_hashes, wanted)
    found = positions < len(sorted_hashes)
    found[found] = np.asarray(sorted_hashes)[positions[found]] == wanted[found]
    if not found.all():
        raise BadInput(f"module hash {str(wanted[~found][0])!r} is not in the NB101 space")
    return positions.astype(np.int64)


def hash_at(sorted_hashes: np.ndarray, index: int) -> str:
    """The hash at a space index (inverse of :func:`index_of`)."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(sorted_hashes):
        raise BadInput(f"NB101 index {index!r} outside the space [0, {len(sorted_hashes)})")
    return str(sorted_hashes[int(index)])
