"""What a lost node or worker looks like from the driver, and how long a stage waits for room.

A node that is stopped, preempted or scaled down takes its workers and actors with it; the driver sees one
of :data:`LOST` from the calls it had in flight there. Those are not the work's fault: the stage does the
lost work again elsewhere (a bounded number of times, :data:`RETRIES`), says so in one log line per loss,
and waits, with a visible message, for the cluster to have room when it has none left
(``resources.wait_seconds``; :class:`Waiting`). A Ray Data stage, whose retries Ray makes, is watched from
beside its stream (:class:`Watched`): lost nodes named, no CPU left waited for. Any other error is the
work's own and ends the run.
"""
from __future__ import annotations

import ctypes
import queue
import threading
import time
from collections.abc import Iterable, Iterator

import ray
import ray.exceptions as rex

from cbred_ray.log import log

LOST = tuple(getattr(rex, name) for name in (
    "RayActorError", "ActorDiedError", "ActorUnavailableError", "WorkerCrashedError", "NodeDiedError",
    "ObjectLostError", "OwnerDiedError", "OutOfMemoryError", "LocalRayletDiedError") if hasattr(rex, name))
"""The errors by which the driver learns that a worker, an actor or a node is gone."""
RETRIES = 3
"""Times one piece of work (a shard, a holder's step) is done again after losses before the run gives up."""
NOTICE_EVERY = 30.0
"""Seconds between two messages while a stage waits for the cluster to have room."""


class ClusterTooSmall(RuntimeError):
    """The cluster had no room for the stage's actors for longer than ``resources.wait_seconds``."""


def reason(err: BaseException) -> str:
    """One line on a loss: the kind of error and its first line."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}" + (f": {text[0][:160]}" if text else "")


class Waiting:
    """The wait of a stage that has work but no actor to run it: a message every :data:`NOTICE_EVERY`
    seconds, :class:`ClusterTooSmall` after ``limit`` seconds."""

    def __init__(self, what: str, limit: float):
        self.what, self.limit = what, limit
        self.since: float | None = None
        self.told = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if self.since is None:
            self.since, self.told = now, now  # the first message after NOTICE_EVERY: actors take a while to start
        waited = now - self.since
        if waited > self.limit:
            raise ClusterTooSmall(f"{self.what}: the cluster had no room for {waited:.0f} s (resources.wait_seconds "
                                  f"{self.limit:g}); the finished work is in the store: rerun when it has room")
        if now - self.told >= NOTICE_EVERY:
            log.warning("%s: waiting for the cluster to have room (%.0f s of %g)", self.what, waited, self.limit)
            self.told = now

    def over(self) -> None:
        self.since = None


class _Stop(BaseException):
    """Raised in the thread that consumes a stream, to end it: Ray Data shuts its execution down on any
    exception in the consumer, as on Ctrl-C."""


class Watched:
    """The items of a stream whose tasks Ray places and retries (a Ray Data pipeline), as they come.

    The stream is consumed on a thread of its own, so that this thread can watch the cluster meanwhile: each
    node that goes is named in one log line (its tasks are the stream's to run again) and counted
    (:attr:`nodes_lost`); while nothing comes and the cluster has no CPU left for a task (its nodes lost,
    none back yet) the stage waits as :class:`Waiting` says. When it gives up, or the iteration is left
    early, the consuming thread is stopped (and the stream's execution with it) before the error is raised
    here. An error of the stream is raised here too.
    """

    def __init__(self, items: Iterable, what: str, limit: float):
        self.items, self.what, self.limit = items, what, limit
        self.nodes_lost = 0

    def __iter__(self) -> Iterator:
        arrived: queue.Queue = queue.Queue()
        end, nothing = object(), object()

        def consume() -> None:
            try:
                for item in self.items:
                    arrived.put((item, None))
                arrived.put((end, None))
            except BaseException as err:  # noqa: BLE001 - handed to the watching thread as it is
                arrived.put((end, err))

        consumer = threading.Thread(target=consume, name=f"cbred-{self.what}", daemon=True)
        consumer.start()
        waiting, finished = Waiting(self.what, self.limit), False
        alive, checked = _alive_nodes(), time.monotonic()
        try:
            while True:
                try:
                    item, err = arrived.get(timeout=1.0)
                except queue.Empty:
                    item = nothing
                if time.monotonic() - checked >= 1.0:
                    alive, checked = self._check(alive), time.monotonic()
                if item is nothing:
                    if ray.cluster_resources().get("CPU", 0) < 1:
                        waiting.tick()
                    else:
                        waiting.over()
                    continue
                waiting.over()
                if item is end:
                    finished = True
                    if err is not None:
                        raise err
                    return
                yield item
        finally:
            if not finished and consumer.is_alive():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(consumer.ident), ctypes.py_object(_Stop))
                consumer.join(timeout=30)

    def _check(self, alive: set[str]) -> set[str]:
        now = _alive_nodes()
        for node in sorted(alive - now):
            self.nodes_lost += 1
            log.warning("%s: lost node %s; Ray runs its tasks again on the nodes that remain (at most %d times "
                        "each)", self.what, node[:12], RETRIES)
        return now


def _alive_nodes() -> set[str]:
    return {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
