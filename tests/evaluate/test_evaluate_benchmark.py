"""Reading benchmark tables: the accepted shape and every BadInput case."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from nb201_fixture import ARCHS

from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import accuracy_columns, dataset_of, load_benchmark


def _frame(**overrides) -> pd.DataFrame:
    columns = {
        "index": np.arange(len(ARCHS), dtype=np.int32),
        "arch_str": list(ARCHS),
        "cifar10_test_acc": np.linspace(80.0, 90.0, len(ARCHS)),
        "cifar100_test_acc": np.linspace(50.0, 70.0, len(ARCHS)),
    }
    columns.update(overrides)
    return pd.DataFrame({k: v for k, v in columns.items() if v is not None})


def _write(tmp_path: Path, df: pd.DataFrame) -> Path:
    path = tmp_path / "bench.parquet"
    df.to_parquet(path)
    return path


def _assert_one_line(err: pytest.ExceptionInfo) -> None:
    assert "\n" not in str(err.value)


def test_load_benchmark_returns_arch_and_accuracy_columns(tmp_path: Path) -> None:
    df = load_benchmark(_write(tmp_path, _frame(note=["x"] * len(ARCHS))))
    assert list(df.columns) == ["arch_str", "cifar10_test_acc", "cifar100_test_acc"]
    assert df.arch_str.tolist() == list(ARCHS)
    assert accuracy_columns(df) == {"cifar10": "cifar10_test_acc", "cifar100": "cifar100_test_acc"}


def test_dataset_names_come_from_the_suffix() -> None:
    assert dataset_of("cifar100_test_acc") == "cifar100"
    assert dataset_of("imagenet16_120_acc") == "imagenet16_120"
    assert dataset_of("cifar10_valid_acc") == "cifar10_valid"


def test_accuracy_columns_skip_non_numeric_and_boolean() -> None:
    df = _frame(label_acc=["a"] * len(ARCHS), flag_acc=[True] * len(ARCHS), svhn_acc=np.ones(len(ARCHS)))
    assert accuracy_columns(df) == {
        "cifar10": "cifar10_test_acc",
        "cifar100": "cifar100_test_acc",
        "svhn": "svhn_acc",
    }


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.parquet"
    with pytest.raises(BadInput, match="nope.parquet.*does not exist") as err:
        load_benchmark(missing)
    _assert_one_line(err)


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    path.write_text("arch_str,cifar10_test_acc\n")
    with pytest.raises(BadInput, match="table.parquet.*not readable Parquet") as err:
        load_benchmark(path)
    _assert_one_line(err)


def test_directory_is_not_a_table(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="not a file"):
        load_benchmark(tmp_path)


def test_no_arch_str_column(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no 'arch_str' column") as err:
        load_benchmark(_write(tmp_path, _frame(arch_str=None)))
    _assert_one_line(err)


def test_arch_strings_that_do_not_parse(tmp_path: Path) -> None:
    archs = [ARCHS[0], "|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|", *ARCHS[2:4], "garbage"]
    with pytest.raises(BadInput, match=r"2 of 5 arch_str.*first: .*conv_7x7") as err:
        load_benchmark(_write(tmp_path, _frame(arch_str=archs)))
    _assert_one_line(err)


def test_missing_arch_string(tmp_path: Path) -> None:
    archs = [*ARCHS[:4], None]
    with pytest.raises(BadInput, match="1 of 5 arch_str.*must be text"):
        load_benchmark(_write(tmp_path, _frame(arch_str=archs)))


def test_duplicated_arch_strings(tmp_path: Path) -> None:
    archs = [*ARCHS[:3], ARCHS[1], ARCHS[1]]
    with pytest.raises(BadInput, match=r"arch_str '\|none~0\|.*' is duplicated \(2 repeated") as err:
        load_benchmark(_write(tmp_path, _frame(arch_str=archs)))
    _assert_one_line(err)


def test_no_accuracy_column(tmp_path: Path) -> None:
    df = _frame(cifar10_test_acc=None, cifar100_test_acc=[str(v) for v in range(len(ARCHS))])
    with pytest.raises(BadInput, match=r"no accuracy column .*'cifar100_test_acc'") as err:
        load_benchmark(_write(tmp_path, df))
    _assert_one_line(err)


def test_two_columns_for_one_dataset(tmp_path: Path) -> None:
    df = _frame(cifar10_acc=np.ones(len(ARCHS)))
    with pytest.raises(BadInput, match="'cifar10_test_acc' and 'cifar10_acc'.*'cifar10'"):
        load_benchmark(_write(tmp_path, df))


def test_missing_accuracy_value(tmp_path: Path) -> None:
    df = _frame(cifar100_test_acc=[1.0, np.nan, 2.0, 3.0, np.nan])
    with pytest.raises(BadInput, match="'cifar100_test_acc' has 2 missing"):
        load_benchmark(_write(tmp_path, df))


def test_identifiers_are_joined_by_the_architecture_they_name(tmp_path):
    from cbred_ray.spaces import build_space

    space = build_space("darts")
    written = space.format_ids(space.sample(3, seed=0))
    cells = ast.literal_eval(written[0])
    cells[0][0], cells[0][1] = cells[0][1], cells[0][0]  # node 2's two edges in the other order
    swapped = str(cells)
    assert swapped != written[0]
    path = tmp_path / "t.parquet"
    pd.DataFrame({"compact": [swapped, *written[1:]], "cifar10_val_acc": [93.0, 92.0, 91.0]}).to_parquet(path)
    assert load_benchmark(path, space)["compact"].tolist() == written
    pd.DataFrame({"compact": [swapped, written[0]], "cifar10_val_acc": [93.0, 92.0]}).to_parquet(path)
    with pytest.raises(BadInput, match="listed twice"):
        load_benchmark(path, space)
