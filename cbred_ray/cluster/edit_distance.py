"""The transformation distance between NB201 cells: graph edit distance under a cost model.

A cell is a DAG on 4 nodes (input 0, intermediate 1 and 2, output 3) whose 6 edges carry
operations; an edge carrying ``none`` is no edge. Editing one cell into another
substitutes the operation of an edge (cost ``substitute``), inserts an edge (``none`` ->
op, cost ``insert[op]``) or deletes one (op -> ``none``, cost ``delete[op]``). Nodes keep
their roles (an input, two intermediates, an output: no node is inserted or deleted), so
the only node correspondences are the identity and the swap of nodes 1 and 2. Under the
swap, edges (1<-0) and (2<-0) trade places, as do (3<-1) and (3<-2), while (2<-1) would
become (1<-2), which the DAG order does not allow: it is deleted from the first cell and
inserted into the second. The graph edit distance is therefore, exactly,

    min( Σ_e c[a_e, b_e],  Σ_e≠(2<-1) c[a_e, b_swap(e)] + c[a_(2<-1), none] + c[none, b_(2<-1)] ),

with c the 5 x 5 cost matrix of ``EditCosts.matrix``. A test checks this closed form
against networkx's exact ``graph_edit_distance`` on the same labelled graphs. Computed
for all pairs of a set of cells with numpy, block by block.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import nb201

_SWAP = np.array([1, 0, 2, 3, 5, 4])  # edge e of one cell faces edge _SWAP[e] of the other when 1 <-> 2
_EDGE_21 = 2  # (2<-1), which the swap cannot map
FAMILIES = {"skip_connect": "parameter-free", "avg_pool_3x3": "parameter-free", "nor_conv_1x1": "parametric",
            "nor_conv_3x3": "parametric"}
"""The operation families of the default cost model."""


def _default_substitute() -> dict[str, float]:
    return {"same_family": 0.5, "other_family": 1.0}


@dataclass(frozen=True)
class EditCosts:
    """The cost model, documented and configurable.

    Operations fall in two families: parametric (``nor_conv_1x1``, ``nor_conv_3x3``) and
    parameter-free (``skip_connect``, ``avg_pool_3x3``). Substituting an operation by one
    of its own family costs ``substitute["same_family"]`` (default 0.5: a 1x1 and a 3x3
    convolution are closer than a convolution and a pooling), by one of the other family
    ``substitute["other_family"]`` (1.0); inserting or deleting an edge carrying ``op``
    costs ``insert[op]`` / ``delete[op]`` (default 1.0 each).
    """

    substitute: dict[str, float] = field(default_factory=_default_substitute)
    insert: dict[str, float] = field(default_factory=lambda: {op: 1.0 for op in nb201.OPS[1:]})
    delete: dict[str, float] = field(default_factory=lambda: {op: 1.0 for op in nb201.OPS[1:]})

    @classmethod
    def from_config(cls, costs: dict[str, float]) -> EditCosts:
        """The cost model from a config's flat overrides: ``same_family``, ``other_family``,
        ``insert`` and ``delete`` (the same insertion / deletion cost for every operation)."""
        known = ("same_family", "other_family", "insert", "delete")
        for key, value in costs.items():
            if key not in known:
                raise BadInput(f"unknown edit cost {key!r}; known: {', '.join(known)}")
            if not np.isfinite(value) or value < 0:
                raise BadInput(f"edit cost {key!r} must be finite and non-negative, got {value!r}")
        base = cls()
        substitute = {name: float(costs.get(name, base.substitute[name])) for name in ("same_family", "other_family")}
        insert = {op: float(costs.get("insert", cost)) for op, cost in base.insert.items()}
        delete = {op: float(costs.get("delete", cost)) for op, cost in base.delete.items()}
        return cls(substitute, insert, delete)

    def matrix(self) -> np.ndarray:
        """c[i, j]: the cost of turning operation ``nb201.OPS[i]`` into ``nb201.OPS[j]`` on one edge."""
        if set(self.substitute) != {"same_family", "other_family"}:
            raise BadInput(f"substitute costs need 'same_family' and 'other_family', got {sorted(self.substitute)}")
        ops = nb201.OPS[1:]
        for name, costs in (("insert", self.insert), ("delete", self.delete)):
            if set(costs) != set(ops):
                raise BadInput(f"{name} costs must name each of {', '.join(ops)}, got {sorted(costs)}")
        values = [*self.substitute.values(), *self.insert.values(), *self.delete.values()]
        if any(not np.isfinite(v) or v < 0 for v in values):
            raise BadInput(f"edit costs must be finite and non-negative, got {values}")
        c = np.zeros((len(nb201.OPS), len(nb201.OPS)))
        for i, a in enumerate(nb201.OPS):
            for j, b in enumerate(nb201.OPS):
                if a == b:
                    continue
                if a == "none":
                    c[i, j] = self.insert[b]
                elif b == "none":
                    c[i, j] = self.delete[a]
                else:
                    same = FAMILIES[a] == FAMILIES[b]
                    c[i, j] = self.substitute["same_family" if same else "other_family"]
        return c


def _as_cells(cells: np.ndarray, name: str) -> np.ndarray:
    cells = np.asarray(cells)
    if cells.ndim == 1:
        cells = cells[None, :]
    if cells.ndim != 2 or cells.shape[1] != nb201.NUM_EDGES or cells.min(initial=0) < 0 or cells.max(initial=0) >= len(nb201.OPS):
        raise BadInput(f"{name} must be NB201 cells: rows of {nb201.NUM_EDGES} operation indices in 0..{len(nb201.OPS) - 1}")
    return cells.astype(np.int64)


def pairwise_edit_distance(a: np.ndarray, b: np.ndarray | None = None, costs: EditCosts | None = None,
                           block: int = 1024) -> np.ndarray:
    """The (len(a), len(b)) matrix of edit distances between cells (rows of 6 operation indices)."""
    c = (costs or EditCosts()).matrix()
    a = _as_cells(a, "a")
    b = a if b is None else _as_cells(b, "b")
    if block < 1:
        raise BadInput(f"block must be positive, got {block!r}")
    out = np.empty((len(a), len(b)))
    swapped = b[:, _SWAP]
    keep = np.arange(nb201.NUM_EDGES) != _EDGE_21
    inserted = c[0, b[:, _EDGE_21]]  # under the swap, b's (2<-1) has no preimage: inserted
    for start in range(0, len(a), block):
        rows = a[start : start + block]
        identity = c[rows[:, None, :], b[None, :, :]].sum(-1)
        swap = (c[rows[:, None, keep], swapped[None, :, keep]].sum(-1)
                + c[rows[:, _EDGE_21], 0][:, None] + inserted[None, :])
        out[start : start + block] = np.minimum(identity, swap)
    return out


def edit_distance(a, b, costs: EditCosts | None = None) -> float:
    """The edit distance between two cells (6 operation indices or arch strings)."""
    cells = [nb201.parse(x) if isinstance(x, str) else x for x in (a, b)]
    return float(pairwise_edit_distance(np.array([cells[0]]), np.array([cells[1]]), costs)[0, 0])
