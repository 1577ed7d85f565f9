"""The ways of choosing a subset that the paper compares, side by side and from the same statistics.

Every rule sees the oriented ranks of the statistics, the clusters and the costs of the
(budgeted) space; none sees an accuracy. The rank ensemble (the mean of the statistics'
oriented ranks) orders architectures wherever a rule needs one order:

- Whole space: every architecture within budget.
- Random: ``size`` architectures drawn uniformly (seeded).
- Intrinsic: the one network the statistics rank first (a training-free search, no reduction).
- Quantiled: the ``size`` best-ranked architectures of the space.
- MAC-Quantiled: the ``size`` best-ranked among those at or under the space's median MACs
  (``mac_quantile``).
- C-BRED (C): the best cluster; C-BRED (Q + C): its ``size`` best-ranked members
  (:func:`cbred_ray.select.reduction.reduce_space`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from cbred_ray.select.reduction import Reduction, ensemble_rank, top_by_rank

METHODS: tuple[str, ...] = ("Whole space", "Random", "Intrinsic", "Quantiled", "MAC-Quantiled", "C-BRED (C)",
                            "C-BRED (Q + C)")


def choose_subsets(ranks: pd.DataFrame, macs: pd.Series, reduction: Reduction, seed: int,
                   mac_quantile: float = 0.5, combine: str = "mean") -> dict[str, pd.Index]:
    """The subset (architecture labels) each method keeps.

    ``ranks`` and ``macs`` are indexed by the architectures of the space (after any budget);
    ``reduction`` is C-BRED's (Q + C) result on the same space, whose target size every other
    quantile rule keeps too, so that the comparison is at equal size. ``combine``: how the rank
    ensemble is formed (:func:`~cbred_ray.select.reduction.ensemble_rank`), as the reduction's.
    """
    if reduction.target is None:
        raise ValueError("the comparison needs a C-BRED (Q + C) reduction: set select.top_fraction")
    size = reduction.target
    order = ensemble_rank(ranks, combine)
    space = ranks.index.sort_values()
    rng = np.random.default_rng(seed)
    cheap = macs.index[macs.to_numpy() <= np.quantile(macs.to_numpy(), mac_quantile)]
    return {
        "Whole space": space,
        "Random": pd.Index(np.sort(rng.choice(space.to_numpy(), size=min(size, len(space)), replace=False))),
        "Intrinsic": top_by_rank(order, 1),
        "Quantiled": top_by_rank(order, size).sort_values(),
        "MAC-Quantiled": top_by_rank(order.loc[order.index.intersection(cheap)], size).sort_values(),
        "C-BRED (C)": reduction.members,
        "C-BRED (Q + C)": reduction.selected,
    }


def first_by_statistics(ranks: pd.DataFrame, subset: pd.Index, combine: str = "mean") -> int:
    """The architecture of ``subset`` that the statistics rank first (a training-free search inside it)."""
    return int(top_by_rank(ensemble_rank(ranks.loc[subset], combine), 1)[0])
