"""Computational graphs of architectures, their projections and graph features.

Pure functions (no Ray): :mod:`.computational` builds the bipartite memory/kernel graph of a
cell and its projections, :mod:`.features` turns a graph into fixed-order arrays (the reference
definition of the features), and :mod:`.cell_features` computes the same features vectorised over
arrays of cells, without building graphs, for the graphs stage.
"""
