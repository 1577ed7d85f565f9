"""Hardware constraints: keep the architectures within a parameter and a MAC budget."""
from __future__ import annotations

import numpy as np
import pandas as pd

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space


def within_budget(costs: pd.DataFrame, max_params: float | None = None, max_macs: float | None = None) -> pd.Series:
    """A boolean mask over ``costs`` (columns ``params`` and ``macs``): True where every given
    budget holds (``params <= max_params``, ``macs <= max_macs``); None means no limit.

    An architecture whose cost is unknown (null) is outside any budget on that cost.
    Raises BadInput naming the budget when no architecture is left: a reduction of an
    empty space is refused before anything is computed on it.
    """
    mask = pd.Series(True, index=costs.index)
    for column, limit in (("params", max_params), ("macs", max_macs)):
        if limit is None:
            continue
        if not np.isfinite(limit) or limit <= 0:
            raise BadInput(f"max_{column} must be a positive number, got {limit!r}")
        if column not in costs.columns:
            raise BadInput(f"a max_{column} budget needs the {column!r} statistic")
        mask &= costs[column].le(limit).fillna(False).astype(bool)
    if not mask.any():
        raise BadInput(f"no architecture meets the budget (max_params={max_params!r}, max_macs={max_macs!r})")
    return mask


def arch_costs(space: Space, arch_index: np.ndarray, num_classes: int) -> pd.DataFrame:
    """Parameters and MACs of each architecture's network as the space's benchmark builds it from its
    identifier (``Space.costs``)."""
    params, macs = space.costs(np.asarray(arch_index), num_classes)
    return pd.DataFrame({"params": params, "macs": macs}, index=pd.Index(arch_index, name="arch_index"))


def stored_costs(clusters: pd.DataFrame) -> pd.DataFrame:
    """``params`` and ``macs`` from the ``arch_params`` / ``arch_macs`` columns of the clusters table."""
    return clusters[["arch_params", "arch_macs"]].set_axis(["params", "macs"], axis=1)


def budget_mask(clusters: pd.DataFrame, max_params: float | None, max_macs: float | None) -> pd.Series:
    """Within budget, from the ``arch_params`` / ``arch_macs`` columns of the clusters table."""
    return within_budget(stored_costs(clusters), max_params, max_macs)
