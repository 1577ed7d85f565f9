"""One driver per store: the lock, its lease, a killed holder and a holder on another node.

The holder in a separate process is a real process killed with SIGKILL; the other node is a
lease written in the lock file as that node's driver writes it.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from cbred_ray.store import lock as lock_module
from cbred_ray.store.lock import LOCK_NAME, StoreLock, StoreLocked


def _lease(root):
    text = (root / LOCK_NAME).read_text()
    return json.loads(text) if text else {}


def test_a_second_holder_is_refused_with_the_holders_host_pid_and_start(tmp_path):
    with StoreLock(tmp_path / "s") as first:
        lease = _lease(tmp_path / "s")
        assert lease["host"] == socket.gethostname() and lease["pid"] == os.getpid()
        with pytest.raises(StoreLocked) as refused:
            StoreLock(tmp_path / "s").acquire()
        message = str(refused.value)
        assert f"pid {os.getpid()}" in message and socket.gethostname() in message and lease["since"] in message
        assert "\n" not in message
        assert first.fd is not None
    assert _lease(tmp_path / "s") == {}  # released: emptied, the file stays (hidden)
    with StoreLock(tmp_path / "s"):
        pass


def test_the_holder_renews_its_lease(tmp_path):
    with StoreLock(tmp_path / "s", heartbeat=0.05):
        first = _lease(tmp_path / "s")["heartbeat"]
        time.sleep(0.3)
        assert _lease(tmp_path / "s")["heartbeat"] > first


HOLD = """
import sys, time
from cbred_ray.store.lock import StoreLock
StoreLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(600)
"""


def test_a_lock_left_by_a_killed_holder_does_not_block(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "s")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreLocked, match=f"pid {holder.pid}"):
            StoreLock(tmp_path / "s").acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert _lease(tmp_path / "s")["pid"] == holder.pid  # its lease is still there, fresh
    with StoreLock(tmp_path / "s"):  # the kernel released its lock when it died: taken over
        assert _lease(tmp_path / "s")["pid"] == os.getpid()


def _foreign_lease(root, heartbeat):
    root.mkdir(parents=True, exist_ok=True)
    (root / LOCK_NAME).write_text(json.dumps({"host": "other-node", "pid": 4242, "since": "2026-01-01T00:00:00+00:00",
                                              "heartbeat": heartbeat}))


def test_a_live_lease_from_another_node_refuses_even_where_locks_are_local(tmp_path):
    """On a volume whose locks each node keeps to itself, the lock is free here while another
    node's driver holds the store; its renewed lease refuses this driver."""
    _foreign_lease(tmp_path / "s", time.time())
    with pytest.raises(StoreLocked, match="'other-node', pid 4242"):
        StoreLock(tmp_path / "s").acquire()


def test_a_lease_another_node_stopped_renewing_is_taken_over(tmp_path):
    _foreign_lease(tmp_path / "s", time.time() - lock_module.LEASE - 1)
    with StoreLock(tmp_path / "s"):
        assert _lease(tmp_path / "s")["host"] == socket.gethostname()


def test_without_locks_a_running_holder_on_this_host_still_refuses(tmp_path, monkeypatch):
    """A volume that has no locks at all (flock unsupported): the lease alone decides."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path / "s")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(lock_module, "fcntl", None)
        with pytest.raises(StoreLocked, match=f"pid {holder.pid}"):
            StoreLock(tmp_path / "s").acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with StoreLock(tmp_path / "s"):  # its pid is gone: taken over
        pass


def test_checking_a_store_writes_nothing_and_names_a_holder(tmp_path):
    StoreLock(tmp_path / "absent").check()  # no store, no lock file: free, and nothing is created
    assert not (tmp_path / "absent").exists()
    with StoreLock(tmp_path / "s"):
        before = (tmp_path / "s" / LOCK_NAME).read_bytes()
        with pytest.raises(StoreLocked, match=f"pid {os.getpid()}"):
            StoreLock(tmp_path / "s").check()
        assert (tmp_path / "s" / LOCK_NAME).read_bytes() == before
    StoreLock(tmp_path / "s").check()  # released: free
