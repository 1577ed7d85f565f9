"""Computational graphs in program form, whatever built them, and their projections.

Method doc, "Computational graphs": a program is a bipartite graph
G = (V_M, V_K, E_R ∪ E_W) of memory nodes V_M (feature and parameter arrays)
and kernel nodes V_K (operations), with read edges E_R ⊂ V_M × V_K and write
edges E_W ⊂ V_K × V_M. Projecting onto one partition gives a graph of arrays
only or of operations only.

A space builds its graphs (the cell spaces: :mod:`cbred_ray.spaces.cell.graph`; NB101:
:mod:`cbred_ray.spaces.nb101.graph`; a network of any space, by tracing: :mod:`.traced`) with the node
kinds and attributes defined here.
"""
from __future__ import annotations

from typing import Literal

import networkx as nx

from cbred_ray.errors import BadInput

MEMORY, KERNEL = "memory", "kernel"
FEATURE, PARAMETER = "feature", "parameter"

Partition = Literal["memory", "kernel"]

def project(graph: nx.DiGraph, partition: Partition) -> nx.DiGraph:
    """Projection of a computational graph onto one partition.

    * ``"memory"``: a graph of arrays; a -> b when a kernel reads a and writes
      b, with edge attribute ``kind`` = that kernel's type.
    * ``"kernel"``: a graph of operations; k1 -> k2 when k1 writes an array
      that k2 reads.

    Nodes keep their attributes and the graph's node order.
    """
    if partition not in (MEMORY, KERNEL):
        raise BadInput(f"partition must be 'memory' or 'kernel', got {partition!r}")
    p = nx.DiGraph()
    p.add_nodes_from((n, a) for n, a in graph.nodes(data=True) if a["partition"] == partition)
    if partition == MEMORY:
        for k in nodes_of(graph, KERNEL):
            kind = graph.nodes[k]["kind"]
            p.add_edges_from((a, b, {"kind": kind}) for a in graph.predecessors(k) for b in graph.successors(k))
    else:
        for m in nodes_of(graph, MEMORY):
            p.add_edges_from((k1, k2) for k1 in graph.predecessors(m) for k2 in graph.successors(m))
    return p


def nodes_of(graph: nx.DiGraph, partition: Partition) -> list[str]:
    """The nodes of one partition, in the graph's node order."""
    return [n for n, part in graph.nodes(data="partition") if part == partition]
