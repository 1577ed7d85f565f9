import itertools
import json
import random
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.spaces.nb101 import encoding as nb101

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
NB101_TABLE = SHARED / "nb101" / "nb101_test_accuracy.parquet"
README_CELLS = {2: 1, 3: 6, 4: 84, 5: 2_441, 6: 62_010, 7: 359_082}  # the table's README
README_LABELLED_GRAPHS = 1_293_208
CONV3, CONV1, POOL = nb101.OPS


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    if not NB101_TABLE.is_file():
        pytest.skip("NB101 ground-truth table not present beside the checkout")
    return pd.read_parquet(NB101_TABLE, columns=["hash", "num_vertices", "module_adjacency", "module_operations"])


@pytest.fixture(scope="module")
def small_space() -> tuple[np.ndarray, np.ndarray]:
    """Every cell of at most 5 vertices, enumerated serially (sorted hashes, codes)."""
    return nb101.enumerate_space(max_vertices=5)


def row_spec(row) -> nb101.Spec:
    size = int(row.num_vertices)
    return nb101.Spec(np.asarray(row.module_adjacency, dtype=np.int8).reshape(size, size), tuple(row.module_operations))


def chain(vertices: int) -> list[list[int]]:
    return [[int(y == x + 1) for y in range(vertices)] for x in range(vertices)]


# -- enumeration --------------------------------------------------------------------------------
def test_small_space_is_the_tables_cells_of_at_most_five_vertices(table, small_space):
    hashes, codes = small_space
    rows = table[table.num_vertices <= 5]
    assert len(hashes) == sum(README_CELLS[v] for v in range(2, 6)) == len(rows)
    assert list(hashes) == rows.hash.tolist()
    for row, code in zip(rows.itertuples(), codes, strict=True):
        spec = nb101.decode(int(code))
        assert spec == row_spec(row), row.hash
        assert [e for r in spec.matrix for e in r] == list(row.module_adjacency)


def test_small_space_counts_per_vertices_are_the_readmes(small_space):
    hashes, codes = small_space
    vertices = nb101.decode_many(codes)[0]
    assert {v: int((vertices == v).sum()) for v in range(2, 6)} == {v: README_CELLS[v] for v in range(2, 6)}
    assert len(set(hashes.tolist())) == len(hashes)
    assert list(hashes) == sorted(hashes.tolist())


def test_enumeration_is_what_the_official_procedure_keeps(small_space):
    """A naive run of the generate_graphs.py procedure (every pattern, every labelling, each
    hashed, first seen kept) gives the same hashes and the same first graphs."""
    buckets: dict[str, tuple[list[list[int]], list[int]]] = {}
    for vertices in range(2, 6):
        pairs = [(x, y) for y in range(vertices) for x in range(y)]
        for bits in range(2 ** len(pairs)):
            matrix = [[0] * vertices for _ in range(vertices)]
            for x, y in pairs:
                matrix[x][y] = (bits >> (y * (y - 1) // 2 + x)) & 1
            rows_ok = all(any(matrix[v]) for v in range(vertices - 1))
            cols_ok = all(any(matrix[w][v] for w in range(vertices)) for v in range(1, vertices))
            if not (rows_ok and cols_ok) or sum(map(sum, matrix)) > nb101.MAX_EDGES:
                continue
            for interior in itertools.product(range(3), repeat=vertices - 2):
                labeling = [-1, *interior, -2]
                buckets.setdefault(nb101.hash_module(matrix, labeling), (matrix, labeling))
    hashes, codes = small_space
    assert sorted(buckets) == hashes.tolist()
    for digest, code in zip(hashes, codes, strict=True):
        spec = nb101.decode(int(code))
        assert [list(r) for r in spec.matrix] == buckets[digest][0] and spec.labels == buckets[digest][1]


def test_exhaustive_chunks_merge_to_the_same_space(small_space):
    results = [nb101.enumerate_chunk(*chunk, exhaustive=True) for chunk in nb101.chunks(5, chunk_bits=3)]
    assert sum(len(h) for h, _ in results) > len(small_space[0])  # hashes repeat across chunks ...
    hashes, codes = nb101.merge_chunks(results)  # ... and the merge keeps the first of each
    np.testing.assert_array_equal(hashes, small_space[0])
    np.testing.assert_array_equal(codes, small_space[1])


def test_merge_does_not_depend_on_the_order_of_the_chunks(small_space):
    for exhaustive in (False, True):
        results = [nb101.enumerate_chunk(*chunk, exhaustive=exhaustive) for chunk in nb101.chunks(5, chunk_bits=2)]
        serial = nb101.merge_chunks(results)
        for seed in range(3):
            shuffled = results[:]
            random.Random(seed).shuffle(shuffled)
            merged = nb101.merge_chunks(shuffled)
            np.testing.assert_array_equal(merged[0], serial[0])
            np.testing.assert_array_equal(merged[1], serial[1])
        np.testing.assert_array_equal(serial[0], small_space[0])


def test_chunk_results_are_in_enumeration_order_and_distinct():
    for chunk, exhaustive in itertools.product(nb101.chunks(5, chunk_bits=4), (False, True)):
        hashes, codes = nb101.enumerate_chunk(*chunk, exhaustive=exhaustive)
        assert len(set(hashes.tolist())) == len(hashes) == len(codes)
        assert (np.diff(codes) > 0).all()
        assert ((codes >> 29) == chunk.vertices).all()
        assert all(chunk.start <= (code >> 8) & (2**21 - 1) < chunk.stop for code in codes.tolist())


def test_chunks_cover_every_kept_pattern_once():
    total = 0
    for vertices in range(2, 8):
        parts = [c for c in nb101.chunks(7, chunk_bits=13) if c.vertices == vertices]
        assert all(a.stop == b.start for a, b in zip(parts, parts[1:], strict=False))
        everything = nb101.labelled_graphs(vertices, 0, 2 ** (vertices * (vertices - 1) // 2))
        assert sum(nb101.labelled_graphs(*c) for c in parts) == everything
        total += everything
    assert total == README_LABELLED_GRAPHS == nb101.LABELLED_GRAPHS


def test_every_cell_has_exactly_one_first_graph(small_space):
    """Only first graphs are hashed: one per cell of each size (the README's counts), so no
    chunk repeats another's hash."""
    for vertices in range(2, 8):
        patterns = nb101.full_dags(vertices, 0, 2 ** (vertices * (vertices - 1) // 2))
        assert int(nb101.first_of_class(vertices, patterns).sum()) == README_CELLS[vertices]
    results = [nb101.enumerate_chunk(*chunk) for chunk in nb101.chunks(5, chunk_bits=3)]
    assert sum(len(h) for h, _ in results) == len(small_space[0])


def test_sampled_chunks_of_six_and_seven_vertices_agree_with_the_table(table):
    """Each chunk's cells (the classes whose first graph it holds) are table rows with the table's spec."""
    by_hash = table.set_index("hash")
    rng = random.Random(0)
    for vertices in (6, 7):
        patterns = nb101.full_dags(vertices, 0, 2 ** (vertices * (vertices - 1) // 2))
        firsts = nb101.first_of_class(vertices, patterns).sum(axis=1)  # cells of each pattern, to pick small chunks
        parts = [c for c in nb101.chunks(7, chunk_bits=vertices + 3) if c.vertices == vertices
                 and 0 < firsts[(patterns >= c.start) & (patterns < c.stop)].sum() <= 2000]
        checked = 0
        for chunk in rng.sample(parts, 3):
            hashes, codes = nb101.enumerate_chunk(*chunk)
            rows = by_hash.loc[hashes]
            assert (rows.num_vertices == vertices).all()
            for code, row in zip(codes, rows.itertuples(), strict=True):
                assert nb101.decode(int(code)) == row_spec(row)
            checked += len(hashes)
        assert checked > 0


# -- hashing and specs --------------------------------------------------------------------------
def test_hash_spec_reproduces_the_tables_hash(table):
    for vertices, rows in table.groupby("num_vertices"):
        sample = rows.sample(n=min(500, len(rows)), random_state=int(vertices))
        for row in sample.itertuples():
            spec = row_spec(row)
            assert nb101.hash_spec(spec) == row.hash
            assert nb101.parse_spec(spec.to_json()) == spec  # table cells are pruned already


def _insert_vertex(spec: nb101.Spec, at: int, sources: list[int], targets: list[int], op: str) -> dict:
    """The spec with a vertex inserted before old vertex ``at``, fed by old ``sources``, feeding old ``targets``."""
    old = spec.array()
    size = spec.num_vertices + 1
    where = [v if v < at else v + 1 for v in range(spec.num_vertices)]
    matrix = np.zeros((size, size), dtype=int)
    matrix[np.ix_(where, where)] = old
    for s in sources:
        matrix[where[s], at] = 1
    for t in targets:
        matrix[at, where[t]] = 1
    ops = [*spec.ops[:at], op, *spec.ops[at:]]
    return {"matrix": matrix.tolist(), "ops": ops}


def test_an_unpruned_spec_parses_and_hashes_as_its_pruned_cell(table):
    rng = random.Random(1)
    rows = table[table.num_vertices.between(3, 6)]
    for position in rng.sample(range(len(rows)), 40):
        row = rows.iloc[position]
        cell = row_spec(row)
        at = rng.randrange(1, cell.num_vertices)
        dangling = _insert_vertex(cell, at, sources=[rng.randrange(at)], targets=[], op=POOL)  # no way out
        unfed = _insert_vertex(cell, at, sources=[], targets=[rng.randrange(at, cell.num_vertices)], op=CONV1)
        for unpruned in (dangling, unfed):
            assert nb101.parse_spec(unpruned) == cell
            assert nb101.parse_spec(json.dumps(unpruned)) == cell
            assert nb101.hash_spec(unpruned) == row.hash
            assert nb101.hash_module(unpruned["matrix"], nb101.labelling(unpruned["ops"])) != row.hash


def test_the_edge_limit_applies_after_pruning(table):
    row = next(r for r in table[table.num_vertices == 6].itertuples() if sum(r.module_adjacency) == nb101.MAX_EDGES)
    cell = row_spec(row)
    unpruned = _insert_vertex(cell, 5, sources=[0], targets=[], op=CONV3)  # a tenth edge, to nowhere
    assert sum(map(sum, unpruned["matrix"])) == nb101.MAX_EDGES + 1
    assert nb101.parse_spec(unpruned) == cell


def test_spec_json_is_the_official_form():
    official = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]], "ops": ["input", CONV3, "output"]}
    spec = nb101.parse_spec(official)
    assert json.loads(spec.to_json()) == official
    assert nb101.parse_spec(spec.to_json()) == spec and spec.num_edges == 3 and spec.labels == [-1, 0, -2]
    assert nb101.parse_spec(spec) == spec
    assert nb101.parse_spec({"matrix": np.array(spec.matrix), "ops": list(spec.ops)}) == spec


_TEN_EDGES = chain(7)
for _x, _y in ((0, 2), (0, 3), (0, 4), (1, 3)):
    _TEN_EDGES[_x][_y] = 1


@pytest.mark.parametrize("bad, named", [
    ({"matrix": [[0, 1, 1], [0, 0, 1]], "ops": ["input", CONV3, "output"]}, "row 0 has 3 entries in a 2-row"),
    ({"matrix": [[0, 1, 0], [0, 0, 1], [1, 0, 0]], "ops": ["input", CONV3, "output"]}, r"entry \[2\]\[0\]"),
    ({"matrix": chain(3), "ops": ["input", "conv5x5-bn-relu", "output"]}, "'conv5x5-bn-relu' at vertex 1"),
    ({"matrix": chain(8), "ops": ["input", *[CONV3] * 6, "output"]}, "8 vertices"),
    ({"matrix": _TEN_EDGES, "ops": ["input", *[CONV1] * 5, "output"]}, "10 edges after pruning"),
    ({"matrix": [[0, 1, 0], [0, 0, 0], [0, 0, 0]], "ops": ["input", CONV3, "output"]}, "not reachable"),
    ({"matrix": [[0, 2, 0], [0, 0, 1], [0, 0, 0]], "ops": ["input", CONV3, "output"]}, r"\[0\]\[1\] is 2"),
    ({"matrix": chain(3), "ops": ["input", CONV3]}, "2 ops for a 3-vertex"),
    ({"matrix": chain(3), "ops": [CONV3, CONV3, "output"]}, "first op must be 'input', got 'conv3x3-bn-relu'"),
    ({"matrix": chain(3), "ops": ["input", CONV3, POOL]}, "last op must be 'output', got 'maxpool3x3'"),
    ({"ops": ["input", "output"]}, "matrix"),
    ('{"matrix": [[0, 1], [0, 0]], "ops": ', "not valid JSON"),
    ({"matrix": "01", "ops": ["input", "output"]}, "list of rows, got '01'"),
])
def test_bad_specs_are_refused_naming_the_value(bad, named):
    with pytest.raises(BadInput, match=named) as err:
        nb101.parse_spec(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(BadInput):
        nb101.hash_spec(bad)


@pytest.mark.parametrize("text", ["xyz", "0" * 31, "0" * 33, "02E5A0247BBDCF2860B7E96F74961594",
                                  "02e5a0247bbdcf2860b7e96f7496159g", "", None, 12])
def test_bad_hashes_are_refused_naming_the_value(text):
    assert not nb101.is_module_hash(text)
    with pytest.raises(BadInput, match=re.escape(repr(text))):
        nb101.parse_hash(text)


def test_good_hashes_are_accepted():
    assert nb101.is_module_hash("02e5a0247bbdcf2860b7e96f74961594")
    assert nb101.parse_hash(" 02e5a0247bbdcf2860b7e96f74961594\n") == "02e5a0247bbdcf2860b7e96f74961594"


# -- codes and indices --------------------------------------------------------------------------
def test_codes_round_trip_exactly(small_space):
    _, codes = small_space
    specs = [nb101.decode(int(code)) for code in codes]
    assert [nb101.encode(spec) for spec in specs] == codes.tolist()
    vertices, matrices, labels = nb101.decode_many(codes)
    np.testing.assert_array_equal(nb101.encode_many(vertices, matrices, labels), codes)
    for spec, v, m, lab in zip(specs, vertices, matrices, labels, strict=True):
        size = spec.num_vertices
        assert v == size and (m[:size, :size] == spec.array()).all() and not m[size:].any() and not m[:, size:].any()
        assert lab[:size].tolist() == spec.labels and (lab[size:] == nb101.NO_VERTEX).all()


def test_a_spec_that_is_not_pruned_has_no_code():
    unpruned = nb101.Spec([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]], ("input", CONV3, POOL, "output"))
    with pytest.raises(BadInput, match="not pruned"):
        nb101.encode(unpruned)
    assert nb101.decode(nb101.encode(unpruned.to_dict())) == nb101.parse_spec(unpruned)  # a dict is pruned first


@pytest.mark.parametrize("code", [0, -1, 1 << 40, (3 << 29) | (0b011 << 8), (3 << 29) | (0b111 << 8) | 3, True])
def test_numbers_that_are_not_codes_are_refused(code):
    with pytest.raises(BadInput, match=str(int(code)) if not isinstance(code, bool) else "True"):
        nb101.decode(code)
    if not isinstance(code, bool):
        with pytest.raises(BadInput, match=str(code)):
            nb101.decode_many(np.array([code], dtype=np.int64))


def test_index_and_hash_helpers_invert_each_other(small_space):
    hashes, _ = small_space
    assert [nb101.index_of(hashes, h) for h in hashes] == list(range(len(hashes)))
    order = np.random.default_rng(0).permutation(len(hashes))
    np.testing.assert_array_equal(nb101.indices_of(hashes, hashes[order]), order)
    assert all(nb101.hash_at(hashes, i) == hashes[i] for i in order[:50])
    missing = "f" * 32 if "f" * 32 not in set(hashes) else "e" * 32
    with pytest.raises(BadInput, match=missing):
        nb101.index_of(hashes, missing)
    with pytest.raises(BadInput, match=missing):
        nb101.indices_of(hashes, [hashes[0], missing])
    with pytest.raises(BadInput, match=str(len(hashes))):
        nb101.hash_at(hashes, len(hashes))


def test_the_tables_order_is_its_hash_order(table):
    """The space index is the position in the hash-sorted list: the official file's (and table's) order."""
    full = table.hash.to_numpy().astype("<U32")
    assert (full[1:] > full[:-1]).all()
    sample = np.random.default_rng(1).choice(len(full), 200, replace=False)
    np.testing.assert_array_equal(nb101.indices_of(full, full[sample]), sample)
