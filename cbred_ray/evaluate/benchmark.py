"""Benchmark tables: one row per architecture, its identifier and test accuracies.

A benchmark table is a Parquet file such as ``nb201_test_accuracy.parquet`` with the space's
identifier column (:attr:`~cbred_ray.spaces.base.Space.id_column`: ``arch_str``, the official
NAS-Bench-201 strings; ``hash``, NAS-Bench-101's module hashes) and one or more accuracy
columns. An accuracy column is a numeric column whose name ends in ``_acc``; its
dataset is the name without the ``_test_acc`` (or, failing that, ``_acc``) suffix,
so ``cifar100_test_acc`` measures ``cifar100``.

A space names the table shipped for it (:attr:`~cbred_ray.spaces.base.Space.benchmark_table`, read by
:func:`builtin_table`): the NB201 (CIFAR-10 and CIFAR-100) and NB101 (CIFAR-10) tables ship with this
package (provenance in ``tables/README.md``), so that ``cbred evaluate`` and ``cbred report`` need no
download; a user's space may ship its own; ``--benchmark FILE`` reads another.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space
from cbred_ray.spaces.cell import nb201

ARCH_COLUMN = "arch_str"
"""The identifier column of NB201 (and cell-space) tables."""
_SUFFIXES = ("_test_acc", "_acc")


def builtin_table(space: Space) -> Path:
    """The benchmark table ``space`` ships (its ``benchmark_table``: a path, or ``package:relative/path``
    inside an installed package); BadInput when it has none."""
    where = space.benchmark_table
    if not where:
        raise BadInput(f"space {space.name!r} ships no benchmark table: give --benchmark FILE")
    package, sep, relative = where.partition(":")
    if not sep or Path(where).exists():
        return Path(where)
    try:
        return Path(str(resources.files(package).joinpath(relative)))
    except ModuleNotFoundError:
        raise BadInput(f"space {space.name!r}: its benchmark table {where!r} names a package that is not "
                       "installed") from None


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


def validate_benchmark(df: pd.DataFrame, source: str = "benchmark table", space: Space = nb201.SPACE) -> pd.DataFrame:
    """Check a benchmark frame and return its identifier and accuracy columns, for the rows of ``space``,
    each identifier in the space's written form (a DARTS genotype listed with a node's edges in another
    order, an NB101 cell given as a JSON spec, is joined by the architecture it names).

    BadInput (naming ``source`` and the offending value) when the identifier column is missing,
    an identifier is malformed or repeats, no row is in the space, there is no accuracy column,
    or an accuracy is missing. Rows of architectures outside the space (e.g. NB101 cells of more
    vertices than a subspace has) are left out.
    """
    key = space.id_column
    if key not in df.columns:
        raise BadInput(f"{source}: no {key!r} column (columns: {list(map(str, df.columns))})")
    inside = _check_ids(df[key], source, space)
    df = df[inside].copy()
    if df.empty:
        raise BadInput(f"{source}: no row is an architecture of the {space.name} space")
    df[key] = space.format_ids(space.parse_ids(df[key].tolist()))  # one spelling per architecture: the written one
    spelled = df[key][df[key].duplicated()]
    if len(spelled):
        raise BadInput(f"{source}: {key} {spelled.iloc[0]!r} is listed twice (under two spellings)")
    columns = accuracy_columns(df)
    for column in columns.values():
        missing = int(df[column].isna().sum())
        if missing:
            raise BadInput(f"{source}: accuracy column {column!r} has {missing} missing value(s)")
    return df[[key, *columns.values()]].reset_index(drop=True)


def _check_ids(ids: pd.Series, source: str, space: Space) -> np.ndarray:
    """Which rows are architectures of the space; BadInput for a malformed or repeated identifier."""
    try:
        inside = space.member_mask(ids.tolist())
    except BadInput:
        errors = []
        for text in ids:
            try:
                space.member_mask([text])
            except BadInput as err:
                errors.append(str(err))
        raise BadInput(f"{source}: {len(errors)} of {len(ids)} {ids.name} value(s) are not {space.name} "
                       f"architectures; first: {errors[0]}") from None
    duplicated = ids[ids.duplicated()]
    if len(duplicated):
        raise BadInput(f"{source}: {ids.name} {duplicated.iloc[0]!r} is duplicated ({len(duplicated)} repeated row(s))")
    return inside


def load_benchmark(path: str | Path, space: Space = nb201.SPACE) -> pd.DataFrame:
    """Read and validate a Parquet benchmark table of ``space`` (see :func:`validate_benchmark`).

    Returns a frame with the identifier and the accuracy columns, in file row order.
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
    return validate_benchmark(df, source=f"benchmark table {str(path)!r}", space=space)
