"""The messages of a run: one ``cbred`` logger, which the command line sends to stderr.

Library code reports through :func:`say` (progress messages, shown when ``progress`` is true and
the logger lets INFO through); ``cbred --quiet`` keeps only warnings and errors, Ray's own
logging included (:func:`configure`).
"""
from __future__ import annotations

import logging
import sys

log = logging.getLogger("cbred")

RAY_LOGGERS = ("ray", "ray.data", "ray.train", "ray.tune", "ray.serve")


def say(progress: bool, message: str) -> None:
    """A progress message (INFO on the ``cbred`` logger), when ``progress``."""
    if progress:
        log.info(message)


def configure(quiet: bool) -> None:
    """Messages to stderr as ``[cbred] ...``: INFO and up, or only warnings and errors when ``quiet``
    (Ray's loggers too, and Python warnings are routed through logging)."""
    if not any(getattr(h, "_cbred", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[cbred] %(message)s"))
        handler._cbred = True
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    logging.captureWarnings(True)
    warnings_log = logging.getLogger("py.warnings")
    if log.handlers[0] not in warnings_log.handlers:
        warnings_log.addHandler(log.handlers[0])
        warnings_log.propagate = False
    if quiet:
        silence_ray()


def silence_ray() -> None:
    """Ray's loggers at ERROR. Ray Data sets up its logging when it is first imported, so the driver
    calls this again once Ray (and Ray Data) are loaded."""
    for name in RAY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet() -> bool:
    """Whether :func:`configure` asked for quiet (the ``cbred`` logger drops INFO)."""
    return not log.isEnabledFor(logging.INFO)
