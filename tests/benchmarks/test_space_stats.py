"""Merging whole-space chunks: each complete set's canonical values reach every architecture of its cell, an
incomplete set is left out, a set merged again replaces its columns and errors, and AZ-NAS's aggregate is
the log-rank sum of its components among all rows."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.stats import rankdata

from cbred_ray.spaces.cell import nb201

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import nb201_space_stats as space_stats  # noqa: E402
import zero_cost_faithfulness as zcf  # noqa: E402

AZ = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")


def _whole_space(path: Path) -> pd.DataFrame:
    arch = np.arange(nb201.SPACE_SIZE)
    frame = pd.DataFrame({"arch_index": arch, "canonical_index": nb201.SPACE.canonical_indices(arch),
                          "params": arch.astype(np.float64), "error": None})
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({b"cbred_manifest": b"{}"}), path)
    return frame


def _parts(folder: Path, names: tuple[str, ...], chunk_size: int, seed: int, keep: int | None = None) -> pd.DataFrame:
    cells = space_stats.canonical_cells()
    rng = np.random.default_rng(seed)
    values = pd.DataFrame({"canonical_index": cells, **{n: rng.normal(size=len(cells)) for n in names},
                           "error": None})
    values.loc[3, "error"] = f"{names[0]}: did not converge"
    folder.mkdir(parents=True)
    (folder / "settings.json").write_text(json.dumps({"names": list(names), "source": "cifar100-sample25",
                                                      "batch_size": 256, "num_classes": 100, "seed": 0,
                                                      "chunk_size": chunk_size}))
    starts = range(0, len(cells), chunk_size)
    for chunk, start in list(enumerate(starts))[:keep]:
        values.iloc[start:start + chunk_size].to_parquet(folder / f"chunk-{chunk:03d}.parquet", index=False)
    return values.set_index("canonical_index")


def test_complete_sets_reach_every_architecture_and_az_nas_is_their_log_rank_sum(tmp_path):
    out = tmp_path / "stats.parquet"
    frame = _whole_space(out)
    az = _parts(tmp_path / "parts" / "az", AZ, 4000, seed=1)
    _parts(tmp_path / "parts" / "partial", ("zico",), 4000, seed=2, keep=1)
    space_stats.merge(tmp_path / "parts", out)
    merged = pq.read_table(out)
    got = merged.to_pandas()
    assert "zico" not in got.columns and got.columns[-1] == "error"
    assert np.array_equal(got["params"], frame["params"])
    for name in AZ:
        assert np.array_equal(got[name].to_numpy(), az.loc[frame["canonical_index"], name].to_numpy())
    ranks = [rankdata(got[name]) / len(got) for name in AZ]  # every AZ component is higher-is-better
    assert np.allclose(got["az_nas"], np.log(ranks).sum(axis=0))
    errored = frame["canonical_index"] == az.index[3]
    assert errored.sum() >= 1 and (got.loc[errored, "error"] == "az_expressivity: did not converge").all()
    assert got.loc[~errored, "error"].isna().all()
    metadata = merged.schema.metadata
    added = json.loads(metadata[b"cbred_added_columns"])
    assert metadata[b"cbred_manifest"] == b"{}" and set(added) == {*AZ, "az_nas"}
    assert zcf.batches_of(out) == [f"{', '.join(AZ)}: cifar100-sample25, batch 256, 100 classes, seed 0"]


def test_a_set_merged_again_replaces_its_columns_and_errors(tmp_path):
    out = tmp_path / "stats.parquet"
    frame = _whole_space(out)
    _parts(tmp_path / "first" / "az", AZ, 4000, seed=1)
    space_stats.merge(tmp_path / "first", out)
    before = pq.read_table(out).to_pandas()
    again = _parts(tmp_path / "again" / "az", AZ, 3000, seed=5)
    again_errors = again["error"].copy()
    again_errors.iloc[3] = None
    again_errors.iloc[7] = "az_trainability: overflow"
    pd.DataFrame({"canonical_index": again.index, **{n: again[n] for n in AZ}, "error": again_errors.values}) \
        .iloc[:3000].to_parquet(tmp_path / "again" / "az" / "chunk-000.parquet", index=False)
    space_stats.merge(tmp_path / "again", out)
    after = pq.read_table(out).to_pandas()
    assert list(after.columns) == list(before.columns)
    assert np.array_equal(after["az_trainability"].to_numpy(),
                          again.loc[frame["canonical_index"], "az_trainability"].to_numpy())
    assert not np.allclose(after["az_nas"], before["az_nas"])
    assert after.loc[frame["canonical_index"] == again.index[3], "error"].isna().all()
    assert (after.loc[frame["canonical_index"] == again.index[7], "error"] == "az_trainability: overflow").all()
