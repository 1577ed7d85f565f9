"""Whole-or-nothing file writes: write to a hidden temporary name, then rename."""
from __future__ import annotations

import json
import math
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TMP_PREFIX = ".tmp-"


def _tmp_name(path: Path) -> Path:
    return path.with_name(f"{TMP_PREFIX}{uuid.uuid4().hex}-{path.name}")


def write_table_atomic(path: str | Path, table: pa.Table) -> None:
    """Write a Parquet file so that readers see all of it or none of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(path)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


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
    try:
        tmp.write_text(json.dumps(strict_json(obj), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
