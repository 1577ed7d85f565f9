"""Objectives for simulated search: an architecture's accuracy looked up in a benchmark table.

A search on NAS-Bench-201 or NAS-Bench-101 "trains" a network by reading its accuracy from the benchmark's
table (``table_objective(space, "cifar100")``: the table the space ships, or any table of the space). For real
use the objective is the user's own function from an identifier to a score (a training run). The tables are
read here, after a reduction, never by it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import accuracy_columns, builtin_table, load_benchmark
from cbred_ray.spaces.base import Space


class TableObjective:
    """``objective(arch)``: the accuracy of ``arch`` in a benchmark table, on one dataset."""

    def __init__(self, space: Space, dataset: str, table: str | Path | None = None) -> None:
        frame = load_benchmark(table or builtin_table(space), space)
        columns = accuracy_columns(frame)
        if dataset not in columns:
            raise BadInput(f"the benchmark table of {space.name!r} has no accuracy for dataset {dataset!r} "
                           f"(it has: {', '.join(columns)})")
        self.space, self.dataset = space, dataset
        self.accuracy = pd.Series(frame[columns[dataset]].to_numpy(dtype=np.float64),
                                  index=frame[space.id_column].to_numpy(), name=columns[dataset])
        self._lookup = self.accuracy.to_dict()

    def __call__(self, arch: str) -> float:
        try:
            return self._lookup[arch]
        except KeyError:
            written = self.space.format_ids([self.space.parse_id(arch)])[0]  # another spelling of the same one
            if written not in self._lookup:
                raise BadInput(f"architecture {arch!r} is not in the benchmark table ({self.dataset})") from None
            return self._lookup[written]

    def top(self, share: float) -> float:
        """The accuracy an architecture needs to be in the best ``share`` of the table (at least one
        architecture): the top 1 % of NB201's 15,625 is its 157 best."""
        if not 0 < share <= 1:
            raise BadInput(f"a top share must be in (0, 1], got {share}")
        count = max(1, int(np.ceil(share * len(self.accuracy))))
        return float(np.sort(self.accuracy.to_numpy())[::-1][count - 1])

    def top_ids(self, share: float) -> list[str]:
        """The architectures in the best ``share`` (:meth:`top`)."""
        return self.accuracy.index[self.accuracy.to_numpy() >= self.top(share)].tolist()


def table_objective(space: Space, dataset: str, table: str | Path | None = None) -> TableObjective:
    """The accuracy on ``dataset`` of each architecture in ``table`` (default: the table ``space`` ships)."""
    return TableObjective(space, dataset, table)
