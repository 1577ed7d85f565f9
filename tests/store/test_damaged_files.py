"""Files of a store that are not what they must be (wrong bytes, wrong encoding, wrong JSON type, impossible
values) are handled as their kind requires: a shard's record → the shard is redone; the lock's lease → held
while fresh, taken over once stale; the manifest → one line naming the file (exit 2 at the command line)."""
import json
import os
import time

import pyarrow as pa
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.store import Store
from cbred_ray.store import lock as lock_module
from cbred_ray.store.lock import LOCK_NAME, StoreLock, StoreLocked

DAMAGED = {"binary": b"\xa4\xff\x00\x13", "a list": b"[1, 2]", "a string": b'"shard"', "latin-1": "é".encode("latin-1")}


@pytest.mark.parametrize("content", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_shard_record_makes_its_shard_one_to_redo(tmp_path, content):
    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "x", "status": "running", "stages": {}})
    store.write_shard("stats", 0, pa.table({"arch_index": [1, 2]}))
    store.write_shard("stats", 1, pa.table({"arch_index": [3]}))
    assert store.check_shards("stats") == ({0, 1}, set())
    store.record_path("stats", 1).write_bytes(content)
    assert store.read_record("stats", 1) is None
    assert store.check_shards("stats") == ({0}, {1})


@pytest.mark.parametrize("content", [*DAMAGED.values(), b'{"config_hash": 3}', b'{"config_hash": "x", "status": "odd"}',
                                     b'{"config_hash": "x", "stages": [1]}'],
                         ids=[*DAMAGED.keys(), "hash-not-text", "unknown-status", "stages-not-a-mapping"])
def test_a_damaged_manifest_is_one_line_naming_the_file(tmp_path, content):
    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "x", "status": "done", "stages": {}})
    store.manifest_path.write_bytes(content)
    with pytest.raises(BadInput) as refused:
        store.read_manifest()
    message = str(refused.value)
    assert str(store.manifest_path) in message and "damaged" in message and "\n" not in message


LEASES = {**DAMAGED, "a heartbeat that is text": json.dumps({"host": "n", "pid": 1, "heartbeat": "soon"}).encode(),
          "a heartbeat far in the future": json.dumps({"host": "n", "pid": 1, "heartbeat": 9e9}).encode(),
          "no holder": json.dumps({"heartbeat": 1.0}).encode()}


@pytest.mark.parametrize("content", LEASES.values(), ids=LEASES.keys())
def test_a_damaged_lease_holds_the_store_while_fresh_and_is_taken_over_once_stale(tmp_path, content):
    path = tmp_path / "s" / LOCK_NAME
    path.parent.mkdir()
    path.write_bytes(content)
    with pytest.raises(StoreLocked, match="damaged") as refused:
        StoreLock(tmp_path / "s").acquire()
    assert "\n" not in str(refused.value)
    stale = time.time() - lock_module.LEASE - 1
    os.utime(path, (stale, stale))
    with StoreLock(tmp_path / "s"):
        assert json.loads(path.read_text())["pid"] == os.getpid()
    assert path.read_text() == ""
