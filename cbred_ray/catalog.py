"""What a config may name, without importing torch: the registered statistics (and the network each
runs on) and the input batch sources shipped with the package.

Config validation reads this, so that loading a config does not load torch; the statistics registry
(:mod:`cbred_ray.stats.registry`, which holds the functions) checks at import that it registers
exactly these statistics on these networks, and :mod:`cbred_ray.stats.data` reads these sources.
"""
from __future__ import annotations

from pathlib import Path

NETWORK_OF: dict[str, str] = {
    "naswot_v1": "standard", "naswot_v2": "standard", "ntk_cond": "small", "linear_regions": "thin",
    "synflow": "standard", "logsynflow": "standard", "jacov": "standard", "l2_norm": "standard", "meco": "standard",
    "grad_norm": "standard", "snip": "standard", "grasp": "standard", "fisher": "standard", "plain": "standard",
    "epe_nas": "standard", "zen": "standard", "az_expressivity": "standard", "az_progressivity": "standard",
    "az_trainability": "standard", "az_complexity": "standard", "zico": "standard", "swap": "small",
    "params": "standard", "macs": "standard",
}
"""Every statistic of the registry, in its order, and its ``Statistic.network``."""

_SAMPLES = Path(__file__).parent / "stats" / "samples"
BUILTIN_SOURCES = {"cifar100-sample25": _SAMPLES / "cifar100_sample25.npz",
                   "cifar10-sample20": _SAMPLES / "cifar10_sample20.npz"}
"""Named batch sources shipped with the package (see ``stats/samples/README.md``)."""
BUILTIN_DATASET = {"cifar100-sample25": "cifar100", "cifar10-sample20": "cifar10"}
"""The dataset each built-in source samples (its channel statistics normalise it)."""
