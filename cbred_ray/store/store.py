"""A run's store: a directory of Parquet datasets, one per stage, and a manifest.

Layout::

    STORE/manifest.json
    STORE/graphs/shard-00000.parquet ...   computational-graph features, per architecture
    STORE/stats/shard-00000.parquet ...    training-free statistics, per architecture
    STORE/clusters/part-00000.parquet      cluster of every architecture
    STORE/scores/part-00000.parquet        score of every cluster
    STORE/selection/part-00000.parquet     the reduced space

Every shard has a record beside it, ``.shard-00000.parquet.json``: its row count, the digest of
its bytes and the config hash of the run that wrote it, written before the shard takes its name,
so that no shard file is ever without its record. A shard is finished when its file exists and
matches its record and the store's config: a re-run of the same config skips it, and computes
again a shard whose file is missing, does not read, or is not the file recorded (copied in from
another run, say). Files are written atomically, so a crash leaves none half-written, but it can
leave hidden temporary files (``.tmp-*``) behind; readers ignore them (and the records, which are
hidden too) and the next run of the stage removes them. A store
belongs to one config (opening it with another is refused) and to one driver at a time
(:mod:`cbred_ray.store.lock`).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from cbred_ray.errors import BadInput, short
from cbred_ray.store.atomic import TMP_PREFIX, file_digest, write_json_atomic, write_table_atomic
from cbred_ray.store.lock import LOCK_NAME

STAGES = ("graphs", "stats", "clusters", "scores", "selection", "region")
RUN_STAGES = ("graphs", "stats", "clusters", "selection")
"""The stages a finished reduction (``cbred run``) has."""
STATUSES = ("running", "interrupted", "failed", "done")
"""What a manifest's ``status`` may say."""


def manifest_problem(manifest: object) -> str | None:
    """What makes ``manifest`` not a manifest (None when it is one): the fields every command reads."""
    if not isinstance(manifest, dict):
        return f"a manifest is a JSON object, got {type(manifest).__name__}"
    if not isinstance(manifest.get("config_hash"), str):
        return f"config_hash must be a string, got {short(repr(manifest.get('config_hash')), 60)}"
    if "status" in manifest and manifest["status"] not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}, got {short(repr(manifest['status']), 60)}"
    stages = manifest.get("stages", {})
    if not isinstance(stages, dict) or not all(isinstance(v, dict) for v in stages.values()):
        return "stages must map each stage to its record"
    return None
_SHARD = re.compile(r"^shard-(\d{5,})\.parquet$")


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.manifest_path = self.root / "manifest.json"
        self._owner: str | None = None

    @property
    def owner(self) -> str | None:
        """The config hash in the manifest (None before there is one), read once."""
        if self._owner is None and self.exists():
            self._owner = self.read_manifest().get("config_hash")
        return self._owner

    # -- manifest ---------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict:
        """The manifest; BadInput naming the file when it is missing or is not what a manifest must be (UTF-8
        JSON of a mapping with a config hash, a status and the stages): a damaged manifest stops every
        command with one line rather than being guessed at."""
        if not self.exists():
            raise BadInput(f"no store at {str(self.root)!r}: manifest.json is missing")
        try:
            manifest = json.loads(self.manifest_path.read_bytes().decode("utf-8"))
        except (OSError, ValueError) as err:  # unreadable, not UTF-8, not JSON
            raise BadInput(f"store manifest {str(self.manifest_path)!r} is damaged: {short(err)}") from None
        problem = manifest_problem(manifest)
        if problem:
            raise BadInput(f"store manifest {str(self.manifest_path)!r} is damaged: {problem}")
        return manifest

    def read_finished(self, stages: tuple[str, ...] | list[str], hint: str = "run it to the end") -> dict:
        """The manifest, when every stage of ``stages`` is finished; else BadInput naming the first that is not
        (a reader of a store another driver is still writing, or one that was stopped, reads no half stage)."""
        manifest = self.read_manifest()
        if manifest.get("status") == "done":  # every stage of the run finished
            return manifest
        for stage in stages:
            record = manifest.get("stages", {}).get(stage, {})
            if record.get("status") != "done" or not self.has_stage(stage):
                state = "running" if record else "missing"
                raise BadInput(f"store {str(self.root)!r} is not finished: its {stage!r} stage is {state} (run status "
                               f"{manifest.get('status')!r}): {hint}")
        return manifest

    def write_manifest(self, manifest: dict) -> None:
        write_json_atomic(self.manifest_path, manifest)

    def check_owner(self, config_hash: str) -> dict | None:
        """The existing manifest if this store was made by the same config; refuse another.

        Returns None for a store that does not exist yet. Call before writing anything.
        """
        if not self.exists():
            # a run killed while it wrote its first manifest leaves only a temporary file: still ours
            if self.root.is_file():
                raise BadInput(f"--out {str(self.root)!r} is a file, not a store directory")
            if self.root.exists() and any(not p.name.startswith(TMP_PREFIX) and p.name != LOCK_NAME
                                          for p in self.root.iterdir()):
                raise BadInput(f"--out {str(self.root)!r} is a non-empty directory that is not a cbred store")
            return None
        manifest = self.read_manifest()
        if manifest.get("config_hash") != config_hash:
            raise BadInput(
                f"store {str(self.root)!r} was made by config hash {manifest.get('config_hash')!r}, "
                f"not {config_hash!r}: use a new --out directory"
            )
        return manifest

    # -- stage files ------------------------------------------------------
    def stage_dir(self, stage: str) -> Path:
        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}")
        return self.root / stage

    def shard_path(self, stage: str, shard: int) -> Path:
        return self.stage_dir(stage) / f"shard-{shard:05d}.parquet"

    def shard_files(self, stage: str) -> set[int]:
        """The shards of ``stage`` that have a file (whole or not)."""
        folder = self.stage_dir(stage)
        return {int(m.group(1)) for p in folder.iterdir() if (m := _SHARD.match(p.name))} if folder.is_dir() else set()

    def record_path(self, stage: str, shard: int) -> Path:
        path = self.shard_path(stage, shard)
        return path.with_name(f".{path.name}.json")

    def read_record(self, stage: str, shard: int) -> dict | None:
        """The record of a shard (rows, sha256, config_hash), or None when there is none or it is damaged (not
        UTF-8 JSON of a mapping): the shard is then unfit, and is computed again."""
        try:
            record = json.loads(self.record_path(stage, shard).read_bytes().decode("utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def check_shards(self, stage: str) -> tuple[set[int], set[int]]:
        """(finished, unfit): the shards whose file matches its record (rows, digest, this store's config),
        and those with a file that does not (no record, not Parquet, other rows, bytes or config)."""
        finished, unfit = set(), set()
        for shard in self.shard_files(stage):
            path, record = self.shard_path(stage, shard), self.read_record(stage, shard)
            try:
                fits = record is not None and record.get("config_hash") == self.owner \
                    and pq.read_metadata(path).num_rows == record.get("rows") and file_digest(path) == record.get("sha256")
            except (pa.ArrowInvalid, OSError):
                fits = False
            (finished if fits else unfit).add(shard)
        return finished, unfit

    def remove_shard(self, stage: str, shard: int) -> None:
        """Remove a shard's file and its record."""
        self.shard_path(stage, shard).unlink(missing_ok=True)
        self.record_path(stage, shard).unlink(missing_ok=True)

    def remove_partial(self, stage: str) -> int:
        """Remove the temporary files a crashed write left in a stage's folder; how many.

        Call only when no write to the stage is in flight (the driver, before its workers start).
        """
        folder, removed = self.stage_dir(stage), 0
        if folder.is_dir():
            for path in folder.glob(f"{TMP_PREFIX}*"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def write_shard(self, stage: str, shard: int, table: pa.Table) -> dict:
        """Write one shard and its record (written first); the record."""
        record = {"rows": table.num_rows, "config_hash": self.owner}

        def write_record(digest: str) -> None:
            record["sha256"] = digest
            write_json_atomic(self.record_path(stage, shard), record)

        write_table_atomic(self.shard_path(stage, shard), table, before_rename=write_record)
        return record

    def read_shard(self, stage: str, shard: int, columns: list[str] | None = None) -> pa.Table:
        return pq.read_table(self.shard_path(stage, shard), columns=columns)

    def write_stage(self, stage: str, table: pa.Table) -> None:
        """Replace a single-file stage (clusters, scores, selection)."""
        write_table_atomic(self.stage_dir(stage) / "part-00000.parquet", table)

    def has_stage(self, stage: str) -> bool:
        folder = self.stage_dir(stage)
        return folder.is_dir() and any(p.suffix == ".parquet" and not p.name.startswith(".") for p in folder.iterdir())

    def _dataset(self, stage: str) -> ds.Dataset:
        if not self.has_stage(stage):
            raise BadInput(f"store {str(self.root)!r} has no {stage!r} stage")
        return ds.dataset(self.stage_dir(stage), format="parquet", ignore_prefixes=[".", "_"])

    def read(self, stage: str, columns: list[str] | None = None) -> pa.Table:
        return self._dataset(stage).to_table(columns=columns)

    def export(self, stage: str, path: str | Path) -> int:
        """Write one stage as one Parquet file (rows in ``arch_index`` order when it has one),
        with the store's manifest in the file's metadata (``cbred_manifest``); the row count."""
        table = self.read(stage)
        if "arch_index" in table.column_names:
            table = table.sort_by("arch_index")
        manifest = json.dumps(self.read_manifest(), default=str)
        write_table_atomic(path, table.replace_schema_metadata({**(table.schema.metadata or {}), "cbred_manifest": manifest}))
        return table.num_rows

    def read_matrix(self, stage: str, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(arch_index, rows) of a fixed-width list column of a stage (a clustering feature of the graphs
        stage), sorted by ``arch_index``."""
        table = self.read(stage, columns=["arch_index", column]).sort_by("arch_index")
        values = table.column(column).combine_chunks()
        return table.column("arch_index").to_numpy(), values.flatten().to_numpy().reshape(len(values), -1)

    def columns(self, stage: str) -> list[str]:
        """The column names of a stage (from its schema; no data read)."""
        return self._dataset(stage).schema.names

    def count_rows(self, stage: str) -> int:
        """Rows of a stage, from the Parquet footers (no data read)."""
        return self._dataset(stage).count_rows()
