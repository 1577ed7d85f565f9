"""How clusters are scored and one is chosen, as plain data (the config's ``select`` section, validated
at the edge, becomes one of these in the pipeline)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from cbred_ray.errors import BadInput


@dataclass(frozen=True)
class Selection:
    """The knobs of a reduction (see ``cbred_ray.config.SelectConfig`` for what each means)."""

    statistics: tuple[str, ...]
    scoring: str = "median_rank"
    quantile: float = 0.5
    combine: str = "mean"
    min_cluster_size: int = 1
    max_cluster_fraction: float | None = None
    bootstrap: int = 200
    top_fraction: float | None = None
    union_share: float | None = None
    union_cut: str | None = None

    @classmethod
    def of(cls, section: object) -> Selection:
        """The selection an object with the same attribute names describes (a config section)."""
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})

    def size_limits(self, space_size: int, target: int | None = None) -> tuple[int, int | None]:
        """(fewest, most) members a cluster may have to be chosen: ``min_cluster_size`` (and the Q + C
        target), and ``max_cluster_fraction`` of the space (None: no limit)."""
        most = None if self.max_cluster_fraction is None else int(self.max_cluster_fraction * space_size)
        return max(self.min_cluster_size, target or 0), most


def top_count(size: int, q: float) -> int:
    """How many architectures make up the best ``q`` fraction of ``size``: ceil(q * size)."""
    if not 0 < q <= 1:
        raise BadInput(f"top fraction must be in (0, 1], got {q!r}")
    # The epsilon keeps float noise (0.07 * 100 == 7.000000000000001) from adding one.
    return max(1, math.ceil(q * size - 1e-9))
