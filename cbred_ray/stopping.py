"""Stopping a command on SIGTERM or SIGINT: what a preempted pod or a Ctrl-C gets.

Kubernetes sends SIGTERM to a pod it stops (and SIGKILL after the grace period); a terminal sends SIGINT
to the whole foreground process group, Ray's own processes included. Either way the driver has little time
before the Ray processes it talks to are gone, so the command line's handler (:func:`stopping_on_signals`) does not
unwind the stack through calls into Ray: it runs the callbacks that the code holding a store registered
(:func:`on_stop`: mark the manifest ``interrupted``, release the lock), prints one line and exits with
128 + the signal's number (143 for SIGTERM, 130 for SIGINT). Nothing is left half-written: every file of a
store is written to a temporary name and renamed whole, and the next run removes the temporaries.

The library installs no handler of its own: a Python caller (a notebook) keeps its signals as they were,
and a KeyboardInterrupt there unwinds normally (the run marks its manifest on the way out).
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_CALLBACKS: list[Callable[[str], None]] = []


@contextmanager
def on_stop(callback: Callable[[str], None]) -> Iterator[None]:
    """Run ``callback(signal name)`` if the command is stopped by a signal while inside this block."""
    _CALLBACKS.append(callback)
    try:
        yield
    finally:
        _CALLBACKS.remove(callback)


def stop(signum: int, frame: object = None) -> None:
    """The handler: every registered callback (newest first; one failing does not keep the others from
    running), one line on stderr, and exit 128 + ``signum`` at once."""
    name = signal.Signals(signum).name
    for callback in reversed(list(_CALLBACKS)):
        try:
            callback(name)
        except Exception:  # noqa: BLE001,S110 - best effort on the way out; the store stays resumable anyway
            pass
    sys.stderr.write(f"cbred: interrupted by {name}: finished work is kept in the store; the same command "
                     "resumes it\n")
    sys.stderr.flush()
    os._exit(128 + signum)


@contextmanager
def kept_signal_handlers() -> Iterator[None]:
    """Keep the process's SIGTERM and SIGINT handlers as they were across the block (``ray.init`` installs
    its own, which would exit without a word or dump a stack)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in before.items():
            if handler is not None and signal.getsignal(signum) is not handler:
                signal.signal(signum, handler)


@contextmanager
def stopping_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT stop the command (:func:`stop`) inside the block; the handlers before it are put
    back after (the command line's ``main`` may be called from Python)."""
    with kept_signal_handlers():
        if threading.current_thread() is threading.main_thread():
            for signum in STOP_SIGNALS:
                signal.signal(signum, stop)
        yield
