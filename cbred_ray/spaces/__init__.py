"""Search spaces behind one interface (:class:`~cbred_ray.spaces.base.Space`): identifiers,
enumeration and sampling by index, canonical forms, graph features, computational graphs and costs."""
from __future__ import annotations

from functools import lru_cache

from cbred_ray.spaces.base import Space


@lru_cache(maxsize=16)
def space_of(name: str, nodes: int = 4, ops: tuple[str, ...] | None = None, max_vertices: int = 7) -> Space:
    """The space a config names: ``nb201``, ``cell`` (``nodes`` nodes over ``ops``) or ``nb101`` (cells of at
    most ``max_vertices`` vertices)."""
    from cbred_ray.spaces.cell import KNOWN_OPS, CellSpace

    if name == "nb201":
        from cbred_ray.spaces.nb201 import SPACE

        return SPACE
    if name == "cell":
        return CellSpace(nodes, tuple(ops or KNOWN_OPS))
    if name == "nb101":
        from cbred_ray.spaces.nb101_space import nb101_space

        return nb101_space(max_vertices)
    from cbred_ray.errors import BadInput

    raise BadInput(f"unknown space {name!r} (known: nb201, cell, nb101)")
