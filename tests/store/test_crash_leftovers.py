"""What a crash can leave in a store: a temporary file of a write it interrupted."""
import pyarrow as pa

from cbred_ray.store import Store
from cbred_ray.store.atomic import TMP_PREFIX


def test_a_run_killed_while_it_wrote_its_first_manifest_can_start_again(tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    (root / f"{TMP_PREFIX}0123-manifest.json.part").write_text('{"config_ha')  # killed before the rename
    assert Store(root).check_owner("aaaa") is None  # an empty store, not someone else's directory


def test_temporary_files_of_interrupted_shard_writes_are_removed_and_counted(tmp_path):
    store = Store(tmp_path / "s")
    assert store.remove_partial("stats") == 0
    store.write_shard("stats", 0, pa.table({"x": [1]}))
    for name in ("a", "b"):
        (store.stage_dir("stats") / f"{TMP_PREFIX}{name}-shard-00001.parquet.part").write_bytes(b"half")
    assert store.remove_partial("stats") == 2
    assert sorted(p.name for p in store.stage_dir("stats").iterdir()) == [".shard-00000.parquet.json",
                                                                          "shard-00000.parquet"]
    assert store.shard_files("stats") == {0}
