"""One writer per store: the driver of a run holds ``STORE/.cbred-lock`` from its first write to its end.

Two mechanisms, so that one store is safe on a local disk and on a volume that several nodes mount:

* **An advisory lock** (``flock``) on the lock file. The kernel releases it when the holder's process
  ends, however it ends, so a killed driver never blocks a rerun. On a local disk this alone is
  exact; on NFSv4 (and CephFS, and most shared volumes) the server extends it across nodes, and it
  is released when the holder's node stops renewing it.
* **A lease** written in the lock file: the holder's host, pid, start time and a heartbeat that a
  background thread renews every :data:`HEARTBEAT` seconds. It names the holder in the refusal,
  and it guards volumes whose locks stay local to each node (NFS mounted ``nolock`` or
  ``local_lock=all``): a lease held from *another* host and renewed within :data:`LEASE` seconds
  refuses the store even when ``flock`` succeeds. A lease from this host whose ``flock`` is free
  belongs to a process that has ended; a lease not renewed for :data:`LEASE` seconds, to a node
  that has stopped; either is taken over. (The lease compares clocks across nodes: keep them within
  a few seconds, as NTP does.)

A lease that is not what a lease must be (not UTF-8 JSON of a mapping with a host, a pid and a numeric
heartbeat, or a heartbeat more than :data:`CLOCK_SKEW` seconds in the future) is *damaged*: it names no
holder, so the lock file's own modification time stands for its heartbeat (a live holder rewrites the file
every :data:`HEARTBEAT` seconds); once that is :data:`LEASE` seconds old the lease is taken over, as a
stale one is.

The lock file stays in the store (emptied on release); readers ignore it, as every hidden file.
"""
from __future__ import annotations

import errno
import json
import os
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from cbred_ray.errors import BadInput

LOCK_NAME = ".cbred-lock"
HEARTBEAT = 10.0
"""Seconds between two renewals of the holder's lease."""
LEASE = 60.0
"""A lease from another host not renewed for this many seconds is taken to be dead."""
CLOCK_SKEW = 60.0
"""A heartbeat further than this in the future is impossible: the lease is damaged."""

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the lease alone
    fcntl = None


def _running(pid) -> bool:
    """Whether a process ``pid`` runs on this host."""
    try:
        os.kill(int(pid), 0)
    except (OSError, TypeError, ValueError) as err:
        return isinstance(err, PermissionError)
    return True


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def _lease_problem(lease: object) -> str | None:
    """What makes ``lease`` not a lease (None when it is one)."""
    if not isinstance(lease, dict):
        return f"a JSON {type(lease).__name__}, not an object"
    if not isinstance(lease.get("host"), str) or not isinstance(lease.get("pid"), int):
        return "no host and pid"
    beat = lease.get("heartbeat")
    if isinstance(beat, bool) or not isinstance(beat, (int, float)) or beat != beat:
        return "its heartbeat is not a number"
    if beat > time.time() + CLOCK_SKEW:
        return f"its heartbeat {_iso(min(beat, 2.5e11))} is in the future"
    return None


class StoreLocked(BadInput):
    """The store is held by another driver (exit 2, naming it)."""


class StoreLock:
    """Exclusive hold of a store directory for one driver; use as a context manager.

    ``acquire()`` creates the directory if needed, takes the lock or raises :class:`StoreLocked`
    naming the holder (host, pid, since when), and starts the heartbeat; ``release()`` stops it,
    empties the lease and unlocks.
    """

    def __init__(self, root: str | Path, heartbeat: float = HEARTBEAT, lease: float = LEASE):
        self.root, self.path = Path(root), Path(root) / LOCK_NAME
        self.heartbeat, self.lease = heartbeat, lease
        self.fd: int | None = None
        self.since: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.holder = {"host": socket.gethostname(), "pid": os.getpid()}

    # -- lease file -------------------------------------------------------
    def read_lease(self) -> dict:
        """The lease in the lock file: empty when nobody holds it; ``{"damaged": reason, "heartbeat": the
        file's modification time}`` when it is not a lease."""
        try:
            raw = self.path.read_bytes()
            modified = self.path.stat().st_mtime
        except OSError:
            return {}
        if not raw.strip():
            return {}
        try:
            lease = json.loads(raw.decode("utf-8"))
        except ValueError:
            return {"damaged": "not UTF-8 JSON", "heartbeat": modified}
        reason = _lease_problem(lease)
        return {"damaged": reason, "heartbeat": modified} if reason else lease

    def _write_lease(self) -> None:
        lease = {**self.holder, "since": _iso(self.since), "since_epoch": self.since, "heartbeat": time.time()}
        data = json.dumps(lease).encode()
        os.lseek(self.fd, 0, os.SEEK_SET)
        os.ftruncate(self.fd, 0)
        os.write(self.fd, data)
        os.fsync(self.fd)

    def _held(self, lease: dict, locked: bool) -> bool:
        """Whether ``lease`` belongs to a live holder though this process could take the lock: another
        host's lease renewed within the lease time, or (on a volume without locks) this host's, by a
        process that is still running; a damaged lease, while the file was written within the lease time."""
        if not lease or time.time() - float(lease["heartbeat"]) >= self.lease:
            return False
        if "damaged" in lease or lease.get("host") != self.holder["host"]:
            return True
        return not locked and lease.get("pid") != self.holder["pid"] and _running(lease.get("pid"))

    def _refuse(self, lease: dict) -> StoreLocked:
        if "damaged" in lease:
            who = (f"its lease is damaged ({lease['damaged']}) and was written at {_iso(lease['heartbeat'])}; it is "
                   f"taken over once {self.lease:.0f} s old")
        elif lease:
            who = f"host {lease.get('host')!r}, pid {lease.get('pid')}, since {lease.get('since')}"
        else:
            who = "another process (it has not written its lease yet)"
        return StoreLocked(f"store {str(self.root)!r} is in use by another cbred run ({who}): wait for it to "
                           "finish, or use another --out")

    # -- acquire / release ------------------------------------------------
    def _lock(self, fd: int, mode: int) -> bool:
        """``flock`` the open lock file (without waiting): True when locked, False on a volume that has
        no locks; :class:`StoreLocked`, naming the holder, when another process holds it."""
        if fcntl is None:
            return False
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return True
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise self._refuse(self.read_lease()) from None
            if err.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                return False  # the lease alone decides
            raise

    def _claimable(self, fd: int, mode: int) -> None:
        """Raise :class:`StoreLocked` unless this process can hold the store (``fd``: the lock file, open)."""
        locked = self._lock(fd, mode)
        lease = self.read_lease()
        if self._held(lease, locked):
            raise self._refuse(lease)

    def check(self) -> None:
        r"""Raise :class:`StoreLocked` if another driver holds the store now; writes nothing (a store with
        no lock file, or none yet, is free). A driver checks this first, so that a refusal names the
        holder whatever else is wrong with the run, then :meth:`acquire`\ s the store to write."""
        if not self.path.is_file():
            return
        fd = os.open(self.path, os.O_RDONLY)
        try:
            self._claimable(fd, fcntl.LOCK_SH if fcntl is not None else 0)
        finally:
            os.close(fd)  # and with it the shared lock

    def acquire(self) -> StoreLock:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o664)
        except OSError as err:  # the first write to the store: a read-only volume, no permission, a full disk
            raise BadInput(f"store {str(self.root)!r} cannot be written: {err.strerror}") from None
        try:
            self._claimable(fd, fcntl.LOCK_EX if fcntl is not None else 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.since = fd, time.time()
        self._write_lease()
        self._stop.clear()
        self._thread = threading.Thread(target=self._renew, name="cbred-store-lease", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.heartbeat):
            try:
                self._write_lease()
            except OSError:  # a volume gone for a moment: the next renewal tries again
                pass

    def release(self) -> None:
        if self.fd is None:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            os.ftruncate(self.fd, 0)
        finally:
            os.close(self.fd)  # closing the descriptor releases the flock
            self.fd = None

    def __enter__(self) -> StoreLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
