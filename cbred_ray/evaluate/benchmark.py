"""Benchmark tables: one row per architecture, its ``arch_str`` and test accuracies.

A benchmark table is a Parquet file such as ``nb201_test_accuracy.parquet`` with an
``arch_str`` column (official NAS-Bench-201 strings) and one or more accuracy
columns. An accuracy column is a numeric column whose name ends in ``_acc``; its
dataset is the name without the ``_test_acc`` (or, failing that, ``_acc``) suffix,
so ``cifar100_test_acc`` measures ``cifar100``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from cbred_ray.errors import BadInput
from cbred_ray.spaces import nb201

ARCH_COLUMN = "arch_str"
_SUFFIXES = ("_test_acc", "_acc")


def dataset_of(column: str) -> str:
    """The dataset an accuracy column measures: ``cifar10_test_acc`` -> ``cifar10``."""
    for suffix in _SUFFIXES:
        if column.endswith(suffix):
            return column[: -len(suffix)]
    raise BadInput(f"column {column!r} is not an accuracy column (name must end in '_acc')")


def accuracy_columns(df: pd.DataFrame) -> dict[str, str]:
    """Map dataset name -> accuracy column, in the table's column order.

    Accuracy columns are numeric, non-boolean columns whose names end in ``_acc``.
    Raises BadInput when two columns name the same dataset or when there is none.
    """
    found: dict[str, str] = {}
    for column in df.columns:
        if not (isinstance(column, str) and column.endswith("_acc") and _is_accuracy_dtype(df[column])):
            continue
        dataset = dataset_of(column)
        if not dataset:
            raise BadInput(f"accuracy column {column!r} does not name a dataset before '_acc'")
        if dataset in found:
            raise BadInput(f"columns {found[dataset]!r} and {column!r} both hold accuracies for dataset {dataset!r}")
        found[dataset] = column
    if not found:
        raise BadInput(f"no accuracy column (numeric, name ending in '_acc') among {list(map(str, df.columns))}")
    return found


def _is_accuracy_dtype(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def validate_benchmark(df: pd.DataFrame, source: str = "benchmark table") -> pd.DataFrame:
    """Check a benchmark frame and return its ``arch_str`` and accuracy columns.

    BadInput (naming ``source`` and the offending value) when ``arch_str`` is
    missing, an arch string does not parse in the NB201 space, arch strings repeat,
    there is no accuracy column, or an accuracy is missing.
    """
    if ARCH_COLUMN not in df.columns:
        raise BadInput(f"{source}: no {ARCH_COLUMN!r} column (columns: {list(map(str, df.columns))})")
    _check_arch_strings(df[ARCH_COLUMN], source)
    columns = accuracy_columns(df)
    for column in columns.values():
        missing = int(df[column].isna().sum())
        if missing:
            raise BadInput(f"{source}: accuracy column {column!r} has {missing} missing value(s)")
    return df[[ARCH_COLUMN, *columns.values()]].reset_index(drop=True)


def _check_arch_strings(arch_strs: pd.Series, source: str) -> None:
    errors: list[str] = []
    for arch_str in arch_strs:
        try:
            nb201.parse(arch_str)
        except BadInput as err:
            errors.append(str(err))
    if errors:
        raise BadInput(
            f"{source}: {len(errors)} of {len(arch_strs)} arch_str value(s) are not NB201 cells; first: {errors[0]}"
        )
    duplicated = arch_strs[arch_strs.duplicated()]
    if len(duplicated):
        raise BadInput(
            f"{source}: arch_str {duplicated.iloc[0]!r} is duplicated ({len(duplicated)} repeated row(s))"
        )


def load_benchmark(path: str | Path) -> pd.DataFrame:
    """Read and validate a Parquet benchmark table (see :func:`validate_benchmark`).

    Returns a frame with ``arch_str`` and the accuracy columns, in file row order.
    BadInput when the file is missing or not readable Parquet.
    """
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"benchmark table {str(path)!r} does not exist or is not a file")
    try:
        df = pd.read_parquet(path)
    except (OSError, pa.ArrowException) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise BadInput(f"benchmark table {str(path)!r} is not readable Parquet: {reason}") from err
    return validate_benchmark(df, source=f"benchmark table {str(path)!r}")
