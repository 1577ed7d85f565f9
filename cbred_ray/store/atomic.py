"""Whole-or-nothing file writes: write to a hidden temporary name, then rename."""
from __future__ import annotations

import hashlib
import json
import math
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TMP_PREFIX = ".tmp-"


def _tmp_name(path: Path) -> Path:
    """A hidden name beside ``path`` that no reader's pattern matches: not ``*.parquet`` (DuckDB's globs
    match hidden files), not ``*.json``."""
    return path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}.part")


@contextmanager
def _named(path: Path) -> Iterator[None]:
    """An error of the file system (a full disk, a read-only volume) that names no file names ``path``, the
    file being written: pyarrow's say only what failed."""
    try:
        yield
    except OSError as err:
        if err.filename is None and err.errno:
            raise OSError(err.errno, os.strerror(err.errno), str(path)) from err
        raise


def file_digest(path: str | Path) -> str:
    """The SHA-256 of a file's bytes (hex, first 32 digits)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:32]


def write_table_atomic(path: str | Path, table: pa.Table, before_rename=None) -> str:
    """Write a Parquet file so that readers see all of it or none of it; the digest of its bytes.

    ``before_rename(digest)`` runs once the whole file is written, before it takes its name (the
    store records the shard there, so that no shard file is ever without its record)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    with _named(path):
        try:
            pq.write_table(table, tmp)
            digest = file_digest(tmp)
            if before_rename is not None:
                before_rename(digest)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return digest


def strict_json(obj: object) -> object:
    """``obj`` with every NaN or infinite float replaced by None, which JSON can hold (as null)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {key: strict_json(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(value) for value in obj]
    return obj


def write_json_atomic(path: str | Path, obj: object) -> None:
    """Write ``obj`` as strict JSON (non-finite floats as null), all of it or none of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    with _named(path):
        try:
            tmp.write_text(json.dumps(strict_json(obj), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
