"""NB101 behind the space interface: the packaged list of cells, identifiers, subspaces, costs."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.spaces import space_of
from cbred_ray.spaces.nb101 import encoding as nb101
from cbred_ray.spaces.nb101 import nb101_space, read_cells

TABLE = Path(__file__).resolve().parents[2].parent / "shared" / "nb101" / "nb101_test_accuracy.parquet"


def test_packaged_cells_are_the_enumeration():
    hashes, codes = read_cells()
    assert len(hashes) == nb101.SPACE_SIZE and (hashes[1:] > hashes[:-1]).all()
    vertices = nb101.decode_many(codes)[0]
    assert dict(zip(*np.unique(vertices, return_counts=True))) == nb101.CELLS_BY_VERTICES
    small_hashes, small_codes = nb101.enumerate_space(5)  # enumerated afresh
    keep = vertices <= 5
    np.testing.assert_array_equal(hashes[keep], small_hashes)
    np.testing.assert_array_equal(codes[keep], small_codes)


def test_subspace_identifiers_round_trip():
    space = space_of("nb101", max_vertices=5)
    assert space is nb101_space(5) and space.size == 2532 and space.id_column == "hash"
    index = np.arange(space.size)
    ids = space.format_ids(index)
    np.testing.assert_array_equal(space.parse_ids(ids), index)
    spec = space.spec(17)
    assert space.parse_id(spec.to_json()) == 17 == space.parse_id(ids[17])
    np.testing.assert_array_equal(space.canonical_indices(index), index)
    assert pickle.loads(pickle.dumps(space)) is space


@pytest.mark.parametrize("bad, match", [
    ("zz" * 16, "hash"),
    ("0" * 32, "not in the NB101 space"),
])
def test_bad_identifiers(bad, match):
    with pytest.raises(BadInput, match=match):
        nb101_space(5).parse_id(bad)


def test_a_seven_vertex_cell_is_not_in_the_five_vertex_subspace():
    whole = nb101_space(7)
    seven = int(np.flatnonzero(nb101.decode_many(whole.codes)[0] == 7)[0])
    with pytest.raises(BadInput, match="not in the NB101 space"):
        nb101_space(5).parse_id(whole.format_ids([seven])[0])
    with pytest.raises(BadInput, match="max_vertices 8"):
        nb101_space(8)


def test_costs_equal_the_benchmark_parameter_counts():
    if not TABLE.is_file():
        pytest.skip("NB101 ground-truth table not present beside the checkout")
    table = pd.read_parquet(TABLE, columns=["hash", "trainable_parameters"]).set_index("hash")
    space = nb101_space(7)
    index = np.random.default_rng(0).choice(space.size, 20_000, replace=False)
    params, macs = space.costs(index, 10)
    np.testing.assert_array_equal(params, table.loc[space.format_ids(index), "trainable_parameters"].to_numpy())
    assert (macs > 0).all()
