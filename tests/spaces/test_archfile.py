import pandas as pd
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.spaces.archfile import read_arch_strings
from cbred_ray.spaces.cell import nb201

A, B = nb201.format_cell((3, 3, 0, 1, 2, 3)), nb201.format_cell((0, 1, 2, 3, 4, 0))


def test_text_file_with_comments_and_blank_lines(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(f"# two archs\n{A}\n\n  {B}  \n")
    assert read_arch_strings(path) == [A, B]


def test_parquet_with_arch_str(tmp_path):
    path = tmp_path / "a.parquet"
    pd.DataFrame({"arch_str": [A, B], "other": [1, 2]}).to_parquet(path)
    assert read_arch_strings(path) == [A, B]


@pytest.mark.parametrize("make, named", [
    (lambda p: p.with_suffix(".txt"), "not found"),
    (lambda p: (p.write_text("# nothing\n"), p)[1], "lists no architectures"),
    (lambda p: (pd.DataFrame({"arch": [A]}).to_parquet(p.with_suffix(".parquet")), p.with_suffix(".parquet"))[1],
     "no 'arch_str' column"),
    (lambda p: (p.with_suffix(".parquet").write_bytes(b"PAR1 broken"), p.with_suffix(".parquet"))[1],
     "not a readable Parquet file"),
    (lambda p: (p.write_text(f"{A}\n{A.replace('nor_conv_1x1', 'conv_1x1')}\n"), p)[1], "entry 2"),
])
def test_bad_files_name_the_problem(tmp_path, make, named):
    path = make(tmp_path / "archs")
    with pytest.raises(BadInput, match=named):
        read_arch_strings(path)
