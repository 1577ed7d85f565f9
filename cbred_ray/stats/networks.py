"""The untrained networks of one architecture, as the statistics engine asks for them.

A statistic names the network it is computed on (``Statistic.network``), one of :data:`KINDS`:

- ``standard``: the space's network for the architecture, at the width statistics are computed at;
- ``small``: a smaller copy on which the NTK is computed (TE-NAS's);
- ``thin``: TE-NAS's thin network for counting linear regions (cell spaces only).

A space's :meth:`~cbred_ray.spaces.base.Space.networks` gives, for one architecture, an object with
``build(kind, num_classes)`` (:class:`~cbred_ray.spaces.base.Networks`); each space builds its own (the cell spaces:
:class:`cbred_ray.spaces.cell.network.CellNetworks`; NB101: :class:`cbred_ray.spaces.nb101.network.NB101Networks`;
a space defined by a builder: :class:`cbred_ray.spaces.builder.BuiltNetworks`) and may refuse a kind it lacks.
"""
from __future__ import annotations

from collections.abc import Sequence

from cbred_ray.spaces.base import Networks
from cbred_ray.spaces.cell.network import EDGES, CellNetworks

KINDS = ("standard", "small", "thin")

def as_networks(arch: Sequence[str] | Networks, channels: int = 16, cells_per_stage: int = 5) -> Networks:
    """``arch`` as networks: anything with a ``build(kind, num_classes)`` (a space's
    :meth:`~cbred_ray.spaces.base.Space.networks`) as given, or NB201 operation names in edge order (the
    standard network at ``channels`` and ``cells_per_stage``), the shorthand the statistics' tests use."""
    if callable(getattr(arch, "build", None)):
        return arch
    return CellNetworks(tuple(arch), EDGES, channels, cells_per_stage)
