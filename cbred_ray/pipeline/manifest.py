"""The manifest of a run and the timing of its stages, shared by every kind of run."""
from __future__ import annotations

import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from importlib import metadata

from cbred_ray.log import say
from cbred_ray.stopping import on_stop
from cbred_ray.store import Store
from cbred_ray.store.lock import StoreLock

_PACKAGES = ("cbred-ray", "ray", "torch", "numpy", "pyarrow", "scikit-learn", "networkx", "pandas")


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_manifest(kind: str, config: dict, config_hash: str, seed: int) -> dict:
    return {
        "kind": kind, "config": config, "config_hash": config_hash, "seed": seed,
        "versions": _versions(), "machine": {"platform": platform.platform(), "python": sys.version.split()[0]},
        "created": now(), "status": "running", "stages": {},
    }


def session(resources, overrides: Iterable[str] = ()) -> dict:
    """What the manifest records of one driver's session on a store: where it ran, on what resources
    (settings outside the config hash) and with which ``--set`` overrides."""
    return {"started": now(), "host": socket.gethostname(), "pid": os.getpid(),
            "resources": resources.model_dump(mode="json"), "overrides": list(overrides)}


def claim(store: Store, existing: dict | None, kind: str, config: dict, config_hash: str, seed: int,
          this_session: dict) -> dict:
    """Mark the run as running in the store's manifest (a new one if ``existing`` is None), add this
    driver's session, and write it before any shard, so that a killed run can be resumed."""
    manifest = existing or new_manifest(kind, config, config_hash, seed)
    manifest["status"] = "running"
    manifest["resources"] = this_session["resources"]
    manifest["sessions"] = [*manifest.get("sessions", []), this_session]
    store.write_manifest(manifest)
    return manifest


def stopped(store: Store, manifest: dict, status: str, why: str) -> None:
    """Mark the run ``interrupted`` or ``failed`` (``why``: the signal or the error) in the manifest, if it
    can still be written (a full disk may be why it stopped)."""
    manifest["status"] = status
    manifest["stopped"] = {"at": now(), "by": why}
    try:
        store.write_manifest(manifest)
    except OSError:
        pass


@contextmanager
def held(store: Store, manifest: dict, lock: StoreLock) -> Iterator[None]:
    """While a driver works on the store it claimed: stopped by a signal (:mod:`cbred_ray.stopping`), the
    manifest says ``interrupted`` and the lock is released before the process exits; stopped by an error, the
    manifest says ``interrupted`` (KeyboardInterrupt) or ``failed`` and the error goes on. Either way the
    same command resumes the run."""

    def by_signal(name: str) -> None:
        stopped(store, manifest, "interrupted", name)
        lock.release()

    with on_stop(by_signal):
        try:
            yield
        except BaseException as err:
            stopped(store, manifest, "interrupted" if isinstance(err, KeyboardInterrupt) else "failed",
                    type(err).__name__)
            raise


def finish(store: Store, manifest: dict, stages: Iterable[str], started: float | None = None) -> dict:
    """Record the rows of ``stages``, the wall time since ``started`` and status done; returns the manifest."""
    manifest["rows"] = {stage: store.count_rows(stage) for stage in stages}
    manifest["status"] = "done"
    if started is not None:
        manifest["wall_seconds_last_run"] = round(time.perf_counter() - started, 3)
    manifest["finished"] = now()
    store.write_manifest(manifest)
    return manifest


SHARD_CODES = {
    "R": "reused: its file matched its record (rows, digest, config), written by an earlier run",
    "C": "computed by this run",
    "B": "its file did not match its record (none, not Parquet, other rows, bytes or config): computed again",
    ".": "not finished",
}
"""What each character of a shard stage's ``shards.status`` in the manifest means."""

PUBLISH_INTERVAL = 1.0
"""Seconds between two rewrites of the manifest while the shards of a stage finish."""


class ShardLog:
    """The status of each shard of a shard stage (graphs, stats) while it runs.

    ``record()`` is what the manifest keeps under ``stages.<stage>.shards``: counts and one
    character per shard, in shard order (``SHARD_CODES``), so that even 10,000 shards stay one
    line. Given ``publish`` (the stage context's, set by :meth:`Stages.run`), the driver rewrites the
    manifest (atomically) as shards finish, at most every ``interval`` seconds (``PUBLISH_INTERVAL``), and once more when the
    stage ends; the files on disk and their records stay the truth (a shard written just before
    a kill may still show ``.``).
    """

    def __init__(self, total: int, reused: Iterable[int], broken: Iterable[int] = (),
                 publish: Callable[[dict], None] | None = None, interval: float | None = None):
        self.done, self.broken = set(reused), set(broken)
        self.codes: list[str] = []
        self.publish, self._last = publish, time.monotonic()
        self.interval = PUBLISH_INTERVAL if interval is None else interval
        self.extend(total)

    @property
    def total(self) -> int:
        return len(self.codes)

    def extend(self, count: int) -> None:
        """Add ``count`` shards, numbered on from the last (a further set scored by the same stage)."""
        first = len(self.codes)
        self.codes += ["R" if shard in self.done else "." for shard in range(first, first + count)]
        if self.publish is not None:
            self.publish(self.record())

    def finished(self, shard: int) -> None:
        self.codes[shard] = "B" if shard in self.broken else "C"
        if self.publish is not None and time.monotonic() - self._last >= self.interval:
            self.publish(self.record())
            self._last = time.monotonic()

    def record(self) -> dict:
        status = "".join(self.codes)
        return {"total": len(status), "done": len(status) - status.count("."), "reused": status.count("R"),
                "computed": status.count("C"), "redone_broken": status.count("B"), "status": status}


def shard_log(store: Store, stage: str, total: int = 0, publish: Callable[[dict], None] | None = None) -> ShardLog:
    """A :class:`ShardLog` of ``stage``'s ``total`` shards (more can be added): the shards whose files
    match their records are reused; every other shard file is removed now (so that no reader meets
    it) and computed again. With ``publish`` (a stage context's) it keeps the manifest up to date as
    shards finish (without, it only counts). Call from the driver, before any write to the stage."""
    finished, unfit = store.check_shards(stage)
    for shard in unfit:
        store.remove_shard(stage, shard)
    return ShardLog(total, finished, unfit, publish)


class Stages:
    """Runs stages in order, timing each and recording it in the manifest as it finishes.

    Each stage is a function of its :class:`~cbred_ray.pipeline.context.RunContext` (the run's one
    context, given here with the stage's ``publish``) returning its record. A shard stage records the status of its shards while it runs (:func:`shard_log`). A stage
    already done is reused, unless it is a shard stage one of whose shards has since gone missing
    or no longer matches its record: it then runs again, and computes only those shards.
    """

    def __init__(self, context, manifest: dict):
        self.context, self.manifest = context, manifest
        self.store, self.progress = context.store, context.progress

    def run(self, stage: str, fn: Callable, redo: bool = False) -> dict:
        previous = self.manifest["stages"].get(stage, {})
        if not redo and previous.get("status") == "done" and self.store.has_stage(stage) and self._whole(stage, previous):
            say(self.progress, f"{stage}: already done, reused")
            return previous
        say(self.progress, f"{stage}: running")
        started, began = time.perf_counter(), now()

        def publish(shards: dict) -> None:
            self.manifest["stages"][stage] = {"status": "running", "started": began, "shards": shards}
            self.store.write_manifest(self.manifest)

        record = fn(self.context.for_stage(publish))
        record.update(status="done", seconds=round(time.perf_counter() - started, 3), finished=now())
        self.manifest["stages"][stage] = record
        self.store.write_manifest(self.manifest)
        say(self.progress, f"{stage}: done in {record['seconds']:.1f} s")
        return record

    def _whole(self, stage: str, record: dict) -> bool:
        """Whether every shard a finished shard stage wrote still matches its record (True for other stages)."""
        total = record.get("shards", {}).get("total")
        return total is None or set(range(total)) <= self.store.check_shards(stage)[0]
