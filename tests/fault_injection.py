"""Faults injected for real by the reliability tests and ``benchmarks/fault_table.py``.

Nothing here imitates a fault by raising its exception: a killed process is killed with
SIGKILL, a broken file is cut short on disk, and running out of memory is an allocation
that torch's allocator genuinely fails because the process's address space was capped
(``RLIMIT_AS``) just around it.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import os
import resource
import signal
import time
from contextlib import contextmanager
from pathlib import Path

GIB = 2 ** 30
PER_IMAGE_BYTES = 256 * 2 ** 20
"""Working memory the memory-hungry statistic asks for per image of its batch."""
HEADROOM_BYTES = 768 * 2 ** 20
"""Address space left to it: 2 images (512 MiB) fit, 4 (1 GiB) do not."""


def _address_space() -> int:
    """Bytes of virtual address space this process maps now."""
    return int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()


@contextmanager
def address_space_limit(headroom: int):
    """Cap this process's address space at what it maps now plus ``headroom`` until exit.

    Only around one allocation: other threads of the process are not starved for long.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + headroom
    resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def memory_hungry(fn, per_image: int = PER_IMAGE_BYTES, headroom: int = HEADROOM_BYTES):
    """``fn(net, batch, ...)`` that first needs ``per_image`` bytes of working memory per image,
    allocated by torch with only ``headroom`` bytes of address space to spare: on a large batch
    the allocation fails (torch's CPU allocator: "can't allocate memory"), on a small one it
    succeeds and ``fn`` runs as it is."""
    @functools.wraps(fn)
    def hungry(net, batch, *args, **kwargs):
        import torch

        with address_space_limit(headroom):
            workspace = torch.empty(len(batch) * per_image, dtype=torch.uint8)
        del workspace
        return fn(net, batch, *args, **kwargs)

    return hungry


def install_memory_hungry_naswot() -> None:
    """Make ``naswot_v2`` memory-hungry in this process (a Ray worker's setup hook, or a test's
    subprocess): its own function, alone (not from a pass shared with ``naswot_v1``)."""
    from cbred_ray.stats import registry

    stat = registry.STATISTICS["naswot_v2"]
    registry.STATISTICS["naswot_v2"] = dataclasses.replace(stat, fn=memory_hungry(stat.fn), shared=None, score=None)


def truncate(path: Path, keep: float = 0.5) -> None:
    """Cut a file short in place, as a crash of a disk or of a copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def kill_group(pid: int) -> None:
    """SIGKILL the process group led by ``pid`` (a command started with ``start_new_session``):
    the command and the Ray it started, nothing else."""
    os.killpg(pid, signal.SIGKILL)


def descendants_named(prefix: bytes, root: int | None = None) -> list[int]:
    """Processes below ``root`` (this process by default) whose command line starts with
    ``prefix``: the statistics actors of a Ray this process started, never another's."""
    children, commands = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            commands[int(entry.name)] = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, stack = [], list(children.get(os.getpid() if root is None else root, []))
    while stack:
        pid = stack.pop()
        if commands.get(pid, b"").startswith(prefix):
            found.append(pid)
        stack.extend(children.get(pid, []))
    return sorted(found)


def shard_files(store: Path, stage: str) -> dict[str, tuple[int, int]]:
    """Whole-looking shard files of a stage: name -> (inode, mtime in ns). A file rewritten
    (atomically: a new file renamed over the old) gets a new inode."""
    folder = store / stage
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.glob("shard-*.parquet"):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        found[path.name] = (stat.st_ino, stat.st_mtime_ns)
    return found


def settle(store: Path, quiet: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until no file under ``store`` has appeared, gone or changed for ``quiet`` seconds."""
    def state():
        found = {}
        for path in store.rglob("*"):
            try:
                found[path] = path.stat().st_mtime_ns
            except FileNotFoundError:
                pass
        return found

    deadline, last, since = time.monotonic() + timeout, state(), time.monotonic()
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.1)
        now = state()
        if now != last:
            last, since = now, time.monotonic()


def manifest_stage(store: Path, stage: str) -> dict:
    """The manifest's record of a stage as it is on disk now ({} when there is none yet)."""
    try:
        return json.loads((store / "manifest.json").read_text())["stages"].get(stage, {})
    except (OSError, ValueError, KeyError):
        return {}


def log_shard_starts() -> None:
    """In a Ray worker (its setup hook): append the id of every statistics shard an actor starts
    to ``<store>.starts``, beside the store, so that a shard started twice (retried after its
    actor died) can be counted."""
    from cbred_ray.pipeline import stats_actor

    original = stats_actor.StatsWorker.score_shard
    if getattr(original, "logs_starts", False):
        return

    @functools.wraps(original)
    def score_shard(self, shard, *args, **kwargs):
        with open(f"{self.store.root}.starts", "a") as log:
            log.write(f"{shard}\n")
        return original(self, shard, *args, **kwargs)

    score_shard.logs_starts = True
    stats_actor.StatsWorker.score_shard = score_shard


def shard_starts(store: Path) -> list[int]:
    """The shards started on ``store``, in order, as :func:`log_shard_starts` logged them."""
    log = Path(f"{store}.starts")
    return [int(line) for line in log.read_text().split()] if log.is_file() else []
