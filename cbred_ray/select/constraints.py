"""Hardware constraints: keep the architectures within a parameter and a MAC budget."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from cbred_ray.errors import BadInput
from cbred_ray.spaces.base import Space


def inside_budget(costs: dict[str, np.ndarray], max_params: float | None = None,
                  max_macs: float | None = None) -> np.ndarray:
    """The budget's rule, on arrays (``costs``: ``params`` and ``macs``, one value per architecture): True where
    every given budget holds (``params <= max_params``, ``macs <= max_macs``); None means no limit. An
    architecture whose cost is unknown (null, NaN) is outside any budget on that cost. Any number of
    architectures may be left, none included: :func:`within_budget` refuses an empty space."""
    mask = np.ones(len(next(iter(costs.values()))), dtype=bool)
    for column, limit in (("params", max_params), ("macs", max_macs)):
        if limit is None:
            continue
        if not np.isfinite(limit) or limit <= 0:
            raise BadInput(f"max_{column} must be a positive number, got {limit!r}")
        if column not in costs:
            raise BadInput(f"a max_{column} budget needs the {column!r} statistic")
        values = np.asarray(costs[column], dtype=np.float64)
        mask &= np.nan_to_num(values, nan=np.inf) <= limit
    return mask


def rows_within(table: pa.Table, budget: tuple[float | None, float | None]) -> np.ndarray:
    """:func:`inside_budget` over the rows of a table with ``arch_params`` and ``arch_macs`` columns (a stage's
    stored costs); ``budget``: (max_params, max_macs)."""
    return inside_budget({"params": table.column("arch_params").to_numpy(),
                          "macs": table.column("arch_macs").to_numpy()}, *budget)


def within_budget(costs: pd.DataFrame, max_params: float | None = None, max_macs: float | None = None) -> pd.Series:
    """:func:`inside_budget` over a frame (columns ``params`` and ``macs``), as a boolean Series.

    Raises BadInput naming the budget when no architecture is left: a reduction of an
    empty space is refused before anything is computed on it.
    """
    mask = pd.Series(inside_budget({c: costs[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in costs.columns},
                                   max_params, max_macs), index=costs.index)
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
