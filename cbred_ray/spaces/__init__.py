"""Search spaces behind one interface (:class:`~cbred_ray.spaces.base.Space`), found through one registry
(:mod:`cbred_ray.spaces.registry`): identifiers, enumeration and sampling by index, canonical forms, graph
features, computational graphs, costs and networks."""
from __future__ import annotations

from cbred_ray.spaces.base import Space
from cbred_ray.spaces.registry import build_space, list_spaces, register_space, space_class

__all__ = ["Space", "build_space", "list_spaces", "register_space", "space_class", "space_of"]


def space_of(name: str, **params) -> Space:
    """The registered space ``name`` with its parameters, e.g. ``space_of("cell", nodes=5)``."""
    return build_space(name, params)
