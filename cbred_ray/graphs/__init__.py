"""Computational graphs of architectures, their projections and graph features.

Pure functions (no Ray): :mod:`.computational` builds the bipartite
memory/kernel graph of a cell and its projections, :mod:`.features` turns a
graph into fixed-order arrays, :mod:`.records` produces the columns of the
store's ``graphs`` table for a batch of cells.
"""
