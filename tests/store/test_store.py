import json

import pyarrow as pa
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.store import Store
from cbred_ray.store.atomic import file_digest, write_table_atomic


def test_shards_are_written_whole_and_listed(tmp_path):
    store = Store(tmp_path / "s")
    store.write_shard("stats", 3, pa.table({"x": [1, 2]}))
    store.write_shard("stats", 0, pa.table({"x": [3]}))
    (store.stage_dir("stats") / ".tmp-abc-shard-00007.parquet.part").write_bytes(b"half")
    assert store.shard_files("stats") == {0, 3}
    assert sorted(store.read("stats").column("x").to_pylist()) == [1, 2, 3]
    assert store.count_rows("stats") == 3
    assert [p.name for p in store.stage_dir("stats").iterdir() if p.name.startswith(".tmp")] == [
        ".tmp-abc-shard-00007.parquet.part"]


def test_a_write_that_fails_after_its_file_is_written_leaves_no_file(tmp_path):
    target = tmp_path / "t.parquet"
    target.mkdir()  # the final rename, after the whole temporary file is written, cannot replace a directory
    (target / "keep").write_text("mine")
    with pytest.raises(IsADirectoryError):
        write_table_atomic(target, pa.table({"x": [1, 2, 3]}))
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"] and (target / "keep").read_text() == "mine"


def test_a_shard_is_recorded_with_its_rows_digest_and_config(tmp_path):
    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "aaaa", "stages": {}})
    record = store.write_shard("stats", 0, pa.table({"x": [1, 2, 3]}))
    assert record == {"rows": 3, "sha256": file_digest(store.shard_path("stats", 0)), "config_hash": "aaaa"}
    assert store.read_record("stats", 0) == record
    assert store.check_shards("stats") == ({0}, set())
    assert store.read("stats").num_rows == 3  # readers do not see the record

    for change in ({"sha256": "0" * 32}, {"rows": 4}, {"config_hash": "bbbb"}):
        store.record_path("stats", 0).write_text(json.dumps({**record, **change}))
        assert store.check_shards("stats") == (set(), {0}), change
    store.record_path("stats", 0).unlink()
    assert store.check_shards("stats") == (set(), {0})


def test_a_store_belongs_to_one_config(tmp_path):
    store = Store(tmp_path / "s")
    assert store.check_owner("aaaa") is None
    store.write_manifest({"config_hash": "aaaa", "stages": {}})
    assert store.check_owner("aaaa")["config_hash"] == "aaaa"
    with pytest.raises(BadInput, match="'aaaa'.*'bbbb'"):
        store.check_owner("bbbb")


def test_a_file_in_place_of_the_store_is_refused(tmp_path):
    (tmp_path / "s").write_text("a file")
    with pytest.raises(BadInput, match="is a file"):
        Store(tmp_path / "s").check_owner("aaaa")


def test_a_foreign_non_empty_directory_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BadInput, match="not a cbred store"):
        Store(tmp_path).check_owner("aaaa")


def test_reading_a_missing_stage_names_it(tmp_path):
    with pytest.raises(BadInput, match="'selection'"):
        Store(tmp_path).read("selection")


def test_export_writes_one_file_in_architecture_order_with_the_manifest(tmp_path):
    import json

    import pyarrow.parquet as pq

    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "abc", "seed": 4})
    store.write_shard("stats", 1, pa.table({"arch_index": [7, 5], "arch_str": ["g", "e"]}))
    store.write_shard("stats", 0, pa.table({"arch_index": [6], "arch_str": ["f"]}))
    assert store.export("stats", tmp_path / "out.parquet") == 3
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("arch_index").to_pylist() == [5, 6, 7] and table.column("arch_str").to_pylist() == ["e", "f", "g"]
    assert json.loads(table.schema.metadata[b"cbred_manifest"]) == {"config_hash": "abc", "seed": 4}
    with pytest.raises(BadInput, match="no 'selection' stage"):
        store.export("selection", tmp_path / "none.parquet")
    assert not (tmp_path / "none.parquet").exists()


def test_a_broken_shard_is_not_counted_as_finished(tmp_path):
    store = Store(tmp_path / "s")
    store.write_shard("stats", 0, pa.table({"x": [1]}))
    store.write_shard("stats", 1, pa.table({"x": [2]}))
    good = store.shard_path("stats", 1).read_bytes()
    store.shard_path("stats", 1).write_bytes(good[: len(good) // 2])  # truncated by a crash outside our writes
    assert store.check_shards("stats") == ({0}, {1})
    store.write_shard("stats", 1, pa.table({"x": [2]}))  # computed again, replacing it
    assert store.check_shards("stats") == ({0, 1}, set())
    assert sorted(store.read("stats").column("x").to_pylist()) == [1, 2]


def test_the_manifest_is_strict_json_with_null_where_a_number_is_not_finite(tmp_path):
    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "x", "score": float("nan"), "rounds": [{"interval": [float("-inf"), 0.5]}]})
    text = store.manifest_path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"config_hash": "x", "score": None, "rounds": [{"interval": [None, 0.5]}]}


def test_duckdb_and_pandas_read_a_stage_as_it_is(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    import pandas as pd

    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "aaaa", "stages": {}})
    store.write_shard("stats", 0, pa.table({"arch_index": [0, 1], "naswot_v2": [1.5, 2.5]}))
    store.write_shard("stats", 1, pa.table({"arch_index": [2], "naswot_v2": [3.5]}))
    (store.stage_dir("stats") / ".tmp-abc-shard-00002.parquet.part").write_bytes(b"half")  # a crash's leftover
    glob = str(store.stage_dir("stats") / "*.parquet")
    assert duckdb.sql(f"select count(*), sum(naswot_v2) from '{glob}'").fetchall() == [(3, 7.5)]
    assert sorted(pd.read_parquet(store.stage_dir("stats"))["arch_index"]) == [0, 1, 2]
