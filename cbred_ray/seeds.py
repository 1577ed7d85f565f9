"""Every seed of a run, drawn from one :class:`numpy.random.SeedSequence` of the run's seed.

A run has one seed (``RunConfig.seed``, or ``cbred stats --seed``). Each use of randomness gets its own
child of ``SeedSequence(seed)``, named by its purpose and, where a use repeats, by its number (the stats
repeat, the halving round, the k-means restart): ``derive(seed, purpose, number)``. Children are hashed,
not added, so no two uses share a stream: run seed 0's second repeat is not run seed 1's first, and
halving round 1 of seed 0 is not round 0 of seed 1.

The purposes are fixed here, in this order, and only ever added to at the end: a purpose's number is part
of its seeds, so reordering them would change every run's draws.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PURPOSES = ("sample", "cost_check", "cluster", "quick", "stats", "halving", "selection", "region", "baselines")
"""What a run draws random numbers for: its sample of a space too large to list; the sample a hardware
budget is checked on; the clustering; quick mode's members per cluster; the statistics (networks'
initial weights and the batch); successive halving (its members and its bootstrap); the selection's
bootstrap; the region's estimate of its share; and, in a report that sets a run's choice beside other
methods for the same seed, those methods' own draws (the random subset, the regressor)."""


def derive(seed: int, *key: int) -> int:
    """A 32-bit seed that is a pure function of ``seed`` and the integer path ``key`` (a SeedSequence child)."""
    if seed < 0 or any(k < 0 for k in key):
        raise ValueError(f"seeds and keys are non-negative, got {seed} and {key}")
    return int(np.random.SeedSequence(seed, spawn_key=tuple(key)).generate_state(1)[0])


@dataclass(frozen=True)
class RunSeeds:
    """The seeds of one run, from its single seed: the child at path (purpose, number), ``seeds.of("cluster")``
    (number 0), ``seeds.of("stats", repeat)``."""

    seed: int

    def of(self, purpose: str, number: int = 0) -> int:
        if purpose not in PURPOSES:
            raise ValueError(f"unknown seed purpose {purpose!r} (known: {', '.join(PURPOSES)})")
        return derive(self.seed, PURPOSES.index(purpose), number)

    def stats(self, repeats: int) -> list[int]:
        """The seed of each statistics repeat (network initialisation and batch), in repeat order."""
        return [self.of("stats", repeat) for repeat in range(repeats)]

    def record(self) -> dict:
        """What the manifest keeps: the run's seed and each purpose's first seed, for a reader to check."""
        return {"seed": self.seed, "scheme": "numpy SeedSequence(seed, spawn_key=(purpose, number))",
                "purposes": {p: self.of(p) for p in PURPOSES}}  # number 0 of each
