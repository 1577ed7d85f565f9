"""What a user should know before trusting a run's choice, read from its manifest.

A kept cluster that the statistics do not separate from others (their score intervals overlap:
:func:`~cbred_ray.select.scoring.near_ties`), and a number of clusters that the criterion chose at an end of
its grid (:func:`~cbred_ray.cluster.space.grid_edge`). They close the run's last line and ``cbred
evaluate``'s summary. No accuracy is read here: a run says them.
"""
from __future__ import annotations


def _interval(low: float, high: float) -> str:
    return f"[{low:.3f}, {high:.3f}]"


def kept_cluster(selection: dict) -> str:
    """The kept cluster with its score and, where the run has one, its interval (a union: its clusters, best
    first, and the best one's score)."""
    interval = f" {_interval(*selection['interval'])}" if selection.get("interval") else ""
    union = selection.get("clusters") or [selection["cluster"]]
    if len(union) > 1:
        shown = ", ".join(map(str, union[:8])) + (f" and {len(union) - 8} more" if len(union) > 8 else "")
        return f"clusters {shown} (best: {union[0]}, score {selection['score']:.3f}{interval})"
    return f"cluster {selection['cluster']} (score {selection['score']:.3f}{interval})"


def caveats(manifest: dict) -> list[str]:
    """One sentence per caveat of the run (none for a clear choice)."""
    stages = manifest.get("stages", {})
    selection, clusters = stages.get("selection", {}), stages.get("clusters", {})
    notes = []
    ties = selection.get("near_ties") or []
    if ties:
        shown = ", ".join(f"{t['cluster']} ({t['score']:.3f} {_interval(*t['interval'])}, {t['size']:,} archs)"
                          for t in ties[:3]) + (f" and {len(ties) - 3} more" if len(ties) > 3 else "")
        union = selection.get("clusters") or [selection["cluster"]]
        kept = f"cluster {union[-1]}" + (", the last of the union," if len(union) > 1 else "")
        notes.append(f"near tie: the interval of {kept} overlaps that of cluster{'s' if len(ties) > 1 else ''} "
                     f"{shown}; the statistics do not separate them")
    edge = clusters.get("k_edge")
    if edge:
        grid = sorted({row["k"] for row in clusters.get("search", [])})
        notes.append(f"K = {clusters['k']} is the {edge} of the grid {grid} that {clusters.get('criterion')} searched: "
                     f"it may prefer a K {'above' if edge == 'largest' else 'below'} it")
    return notes
