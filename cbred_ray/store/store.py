"""A run's store: a directory of Parquet datasets, one per stage, and a manifest.

Layout::

    STORE/manifest.json
    STORE/graphs/shard-00000.parquet ...   computational-graph features, per architecture
    STORE/stats/shard-00000.parquet ...    training-free statistics, per architecture
    STORE/clusters/part-00000.parquet      cluster of every architecture
    STORE/scores/part-00000.parquet        score of every cluster
    STORE/selection/part-00000.parquet     the reduced space

A shard is finished when its file exists and reads as Parquet (files are written
atomically, so a crash leaves none half-written; a file broken otherwise is computed
again), so a re-run of the same config skips it. A crash can leave hidden temporary files
(``.tmp-*``) behind; readers ignore them and the next run of the stage removes them. A store
belongs to one config: opening it with another is refused.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from cbred_ray.errors import BadInput
from cbred_ray.store.atomic import TMP_PREFIX, write_json_atomic, write_table_atomic

STAGES = ("graphs", "stats", "clusters", "scores", "selection")
_SHARD = re.compile(r"^shard-(\d{5,})\.parquet$")


class Store:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.manifest_path = self.root / "manifest.json"

    # -- manifest ---------------------------------------------------------
    def exists(self) -> bool:
        return self.manifest_path.is_file()

    def read_manifest(self) -> dict:
        if not self.exists():
            raise BadInput(f"no store at {str(self.root)!r}: manifest.json is missing")
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            raise BadInput(f"store manifest {str(self.manifest_path)!r} is unreadable: {err}") from None

    def write_manifest(self, manifest: dict) -> None:
        write_json_atomic(self.manifest_path, manifest)

    def check_owner(self, config_hash: str) -> dict | None:
        """The existing manifest if this store was made by the same config; refuse another.

        Returns None for a store that does not exist yet. Call before writing anything.
        """
        if not self.exists():
            # a run killed while it wrote its first manifest leaves only a temporary file: still ours
            if self.root.exists() and any(not p.name.startswith(TMP_PREFIX) for p in self.root.iterdir()):
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

    def finished_shards(self, stage: str) -> set[int]:
        """Shards whose file is whole (its Parquet footer reads); a broken one is left out, so
        the stage computes it again and the new file replaces it."""
        return self._scan(stage)[0]

    def broken_shards(self, stage: str) -> set[int]:
        """Shards with a file that does not read as Parquet (a crash of the disk or of a copy)."""
        return self._scan(stage)[1]

    def _scan(self, stage: str) -> tuple[set[int], set[int]]:
        folder = self.stage_dir(stage)
        whole, broken = set(), set()
        if folder.is_dir():
            for path in folder.iterdir():
                if m := _SHARD.match(path.name):
                    try:
                        pq.read_metadata(path)
                        whole.add(int(m.group(1)))
                    except (pa.ArrowInvalid, OSError):
                        broken.add(int(m.group(1)))
        return whole, broken

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

    def write_shard(self, stage: str, shard: int, table: pa.Table) -> None:
        write_table_atomic(self.shard_path(stage, shard), table)

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

    def count_rows(self, stage: str) -> int:
        """Rows of a stage, from the Parquet footers (no data read)."""
        return self._dataset(stage).count_rows()
