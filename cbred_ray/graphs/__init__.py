"""What the computational graphs of every space share, as pure functions (no Ray).

:mod:`.computational` is the bipartite memory/kernel vocabulary and its projections, :mod:`.features`
turns any such graph into fixed-order arrays (the reference definition of the features), and
:mod:`.traced` derives the graph of any built network by tracing it. A kind of space builds its own
graphs and computes their features vectorised over arrays of architectures, in its own package
(:mod:`cbred_ray.spaces.cell`, :mod:`cbred_ray.spaces.nb101`, :mod:`cbred_ray.spaces.macro`).
"""
