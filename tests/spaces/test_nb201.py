import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import nb201

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_parse_reads_edges_in_official_order():
    assert nb201.op_names(nb201.parse(EXAMPLE)) == (
        "nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect")


def test_every_cell_round_trips_through_its_string_and_index():
    cells = nb201.cell_range(0, nb201.SPACE_SIZE)
    assert len(cells) == nb201.SPACE_SIZE == 5**6
    assert len(np.unique(cells, axis=0)) == nb201.SPACE_SIZE
    for cell in cells[::7]:
        text = nb201.format_cell(cell)
        assert nb201.parse(text) == tuple(int(o) for o in cell)
        assert nb201.index_of(cell) == int(nb201.indices_of(cell[None])[0])
    np.testing.assert_array_equal(nb201.cells_of(nb201.indices_of(cells)), cells)


def test_shard_ranges_cover_the_space_once():
    ranges = list(nb201.shard_ranges(1000))
    assert ranges[0] == (0, 1000) and ranges[-1][1] == nb201.SPACE_SIZE
    assert sum(b - a for a, b in ranges) == nb201.SPACE_SIZE
    assert all(a == prev_b for (a, _), (_, prev_b) in zip(ranges[1:], ranges[:-1]))


@pytest.mark.parametrize("bad, named", [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "expected 3 nodes"),
    ("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|", "conv_5x5"),
    ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", "none~1"),
    ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 edges"),
    ("none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "wrapped"),
    ("", "expected 3 nodes"),
])
def test_malformed_strings_name_the_problem(bad, named):
    with pytest.raises(BadInput, match=named) as err:
        nb201.parse(bad)
    assert "\n" not in str(err.value)


def test_out_of_range_index_is_refused():
    with pytest.raises(BadInput, match="15625"):
        nb201.cells_of(np.array([nb201.SPACE_SIZE]))


_piece = st.sampled_from(["|", "+", "~", "0", "1", "2", "3", *nb201.OPS, "conv", " "])


@settings(max_examples=400, deadline=None)
@given(st.lists(_piece, max_size=30).map("".join))
def test_parser_accepts_exactly_the_strings_it_formats(text):
    try:
        cell = nb201.parse(text)
    except BadInput as err:
        assert "\n" not in str(err)
        return
    assert nb201.format_cell(cell) == text.strip()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=6, max_size=6))
def test_format_then_parse_is_identity(ops):
    assert nb201.parse(nb201.format_cell(ops)) == tuple(ops)
