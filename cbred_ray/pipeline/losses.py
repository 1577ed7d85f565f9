"""What a lost node or worker looks like from the driver, and how long a stage waits for room.

A node that is stopped, preempted or scaled down takes its workers and actors with it; the driver sees one
of :data:`LOST` from the calls it had in flight there. Those are not the work's fault: the stage does the
lost work again elsewhere (a bounded number of times, :data:`RETRIES`), says so in one log line per loss,
and waits, with a visible message, for the cluster to have room when it has none left
(``resources.wait_seconds``). Any other error is the work's own and ends the run.
"""
from __future__ import annotations

import time

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
