"""The manifest records the status of every shard of a shard stage, kept up to date while the
stage runs, and a finished shard stage that has lost a shard, or holds one that no longer matches
its record (rows, digest, config), is run again for it.

No Ray: the stage functions here write their shards themselves, as the workers would."""
import json

import pyarrow as pa
import pytest

from cbred_ray.config import ResourcesConfig, StatsConfig
from cbred_ray.pipeline import manifest as manifest_module
from cbred_ray.pipeline.context import RunContext
from cbred_ray.pipeline.manifest import SHARD_CODES, ShardLog, Stages, shard_log
from cbred_ray.seeds import RunSeeds
from cbred_ray.spaces.cell import nb201
from cbred_ray.store import Store


@pytest.fixture(autouse=True)
def publish_every_shard(monkeypatch):
    monkeypatch.setattr(manifest_module, "PUBLISH_INTERVAL", 0.0)


def test_a_shard_log_counts_and_spells_out_each_shard():
    published = []
    log = ShardLog(6, reused=[0, 3, 9], broken=[4], publish=published.append, interval=0)
    assert published[-1] == {"total": 6, "done": 2, "reused": 2, "computed": 0, "redone_broken": 0,
                             "status": "R..R.."}
    for shard in (4, 1):
        log.finished(shard)
    assert published[-1]["status"] == "RC.RB." and len(published) == 3
    assert log.record() == {"total": 6, "done": 4, "reused": 2, "computed": 1, "redone_broken": 1,
                            "status": "RC.RB."}
    assert set(log.record()["status"]) <= set(SHARD_CODES)


def test_publishing_is_throttled_but_the_record_is_always_current():
    published = []
    log = ShardLog(100, reused=[], publish=published.append, interval=3600)
    for shard in range(100):
        log.finished(shard)
    assert len(published) == 1  # only the opening state within the interval
    assert log.record()["computed"] == 100


def _context(store):
    return RunContext(store, nb201.SPACE, StatsConfig(), RunSeeds(0), ResourcesConfig(), progress=False)


def _shard_stage(store, total, fail_after=None):
    """A stage that writes its missing shards, recording each in a shard log published through the stage's
    context, as the graphs and statistics stages do; it stops (as a killed driver would) after ``fail_after``
    shards."""
    def run(ctx):
        log = shard_log(ctx.store, "stats", total, ctx.publish)
        for written, shard in enumerate(s for s in range(total) if s not in log.done):
            if written == fail_after:
                raise KeyboardInterrupt
            store.write_shard("stats", shard, pa.table({"arch_index": [shard]}))
            log.finished(shard)
        return {"shards": log.record()}
    return run


def test_the_manifest_shows_each_shard_while_the_stage_runs_and_when_it_is_done(tmp_path):
    store = Store(tmp_path / "s")
    manifest = {"config_hash": "x", "stages": {}}
    store.write_manifest(manifest)
    stages = Stages(_context(store), manifest)
    try:
        stages.run("stats", _shard_stage(store, 5, fail_after=3))
    except KeyboardInterrupt:
        pass
    on_disk = json.loads((tmp_path / "s" / "manifest.json").read_text())["stages"]["stats"]
    assert on_disk["status"] == "running" and on_disk["shards"]["status"] == "CCC.."

    store.shard_path("stats", 1).write_bytes(b"not parquet")  # broken while nobody looked
    record = Stages(_context(store), on_disk_manifest(store)).run("stats", _shard_stage(store, 5))
    assert record["status"] == "done"
    assert record["shards"] == {"total": 5, "done": 5, "reused": 2, "computed": 2, "redone_broken": 1,
                                "status": "RBRCC"}
    assert on_disk_manifest(store)["stages"]["stats"]["shards"]["status"] == "RBRCC"


def on_disk_manifest(store):
    return json.loads(store.manifest_path.read_text())


def test_a_done_shard_stage_is_reused_while_whole_and_run_again_for_a_lost_or_broken_shard(tmp_path):
    store = Store(tmp_path / "s")
    store.write_manifest({"config_hash": "x", "stages": {}})
    Stages(_context(store), on_disk_manifest(store)).run("stats", _shard_stage(store, 4))
    files = {p: p.stat().st_ino for p in store.stage_dir("stats").iterdir()}

    again = Stages(_context(store), on_disk_manifest(store)).run("stats", _shard_stage(store, 4))
    assert again["shards"]["status"] == "CCCC"  # the record of the run that computed them: reused as it was
    assert {p: p.stat().st_ino for p in store.stage_dir("stats").iterdir()} == files

    store.shard_path("stats", 2).unlink()
    store.shard_path("stats", 3).write_bytes(store.shard_path("stats", 3).read_bytes()[:20])
    repaired = Stages(_context(store), on_disk_manifest(store)).run("stats", _shard_stage(store, 4))
    assert repaired["shards"]["status"] == "RRCB"
    assert sorted(store.read("stats").column("arch_index").to_pylist()) == [0, 1, 2, 3]


def test_a_shard_swapped_for_another_runs_valid_shard_is_computed_again(tmp_path):
    store, other = Store(tmp_path / "s"), Store(tmp_path / "other")
    store.write_manifest({"config_hash": "x", "stages": {}})
    other.write_manifest({"config_hash": "y", "stages": {}})
    Stages(_context(store), on_disk_manifest(store)).run("stats", _shard_stage(store, 3))
    other.write_shard("stats", 1, pa.table({"arch_index": [99]}))  # a whole shard of another run, same rows
    store.shard_path("stats", 1).write_bytes(other.shard_path("stats", 1).read_bytes())
    repaired = Stages(_context(store), on_disk_manifest(store)).run("stats", _shard_stage(store, 3))
    assert repaired["shards"]["status"] == "RBR"
    assert sorted(store.read("stats").column("arch_index").to_pylist()) == [0, 1, 2]

    # the shard and its record both copied in from the other run: the record names the other config
    store.shard_path("stats", 2).write_bytes(other.shard_path("stats", 1).read_bytes())
    store.record_path("stats", 2).write_bytes(other.record_path("stats", 1).read_bytes())
    repaired = Stages(_context(store), on_disk_manifest(store)).run("stats", _shard_stage(store, 3))
    assert repaired["shards"]["status"] == "RRB"
    assert sorted(store.read("stats").column("arch_index").to_pylist()) == [0, 1, 2]


def test_a_shard_file_without_its_record_is_not_trusted(tmp_path):
    store = Store(tmp_path / "s")
    store.write_shard("stats", 0, pa.table({"arch_index": [0]}))
    store.record_path("stats", 0).unlink()
    log = shard_log(store, "stats", 2)
    assert log.done == set() and log.broken == {0} and not store.shard_path("stats", 0).exists()


def test_a_shard_log_outside_a_stage_only_counts(tmp_path):
    store = Store(tmp_path / "s")
    store.write_shard("stats", 1, pa.table({"arch_index": [1]}))
    log = shard_log(store, "stats", 3)
    log.finished(0)
    assert log.publish is None and log.record()["status"] == "CR."
