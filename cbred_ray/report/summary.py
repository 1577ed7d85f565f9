"""What a user reads first about a run: its caveats and, where the space has a benchmark, a small table.

The caveats, read from the manifest, say what to know before trusting the choice: a kept cluster that the
statistics do not separate from others (their score intervals overlap), and a number of clusters that the
criterion chose at an end of its grid. They close the run's last line and ``cbred evaluate``'s summary,
whose table sets the selection beside the whole space and the free baselines of the same size.
"""
from __future__ import annotations

import math


def _interval(low: float, high: float) -> str:
    return f"[{low:.3f}, {high:.3f}]"


def kept_cluster(selection: dict) -> str:
    """The kept cluster with its score and, where the run has one, its interval."""
    interval = f" {_interval(*selection['interval'])}" if selection.get("interval") else ""
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
        notes.append(f"near tie: the interval of cluster {selection['cluster']} overlaps that of cluster"
                     f"{'s' if len(ties) > 1 else ''} {shown}; the statistics do not separate them")
    edge = clusters.get("k_edge")
    if edge:
        grid = sorted({row["k"] for row in clusters.get("search", [])})
        notes.append(f"K = {clusters['k']} is the {edge} of the grid {grid} that {clusters.get('criterion')} searched: "
                     f"it may prefer a K {'above' if edge == 'largest' else 'below'} it")
    return notes


TABLE_MEASURES = (("subset_size", "size", "{:,}"), ("subset_share", "share", "{:.2%}"), ("subset_mean", "mean", "{:.2f}"),
                  ("top1_recall", "top-1 % recall", "{:.2f}"), ("expected_best_random_10", "E[best of 10]", "{:.2f}"),
                  ("expected_best_random_100", "E[best of 100]", "{:.2f}"))
"""The columns of :func:`evaluation_table`: a measure of :func:`~cbred_ray.evaluate.metrics.evaluate_subset`, its
heading and format."""
SAME_SIZE_ONLY = ("expected_best_random_10", "expected_best_random_100")
"""Measures that compare subsets of equal size only (the whole space's row leaves them out)."""


def evaluation_table(report: dict) -> str:
    """Per dataset, the selection, the free baselines of its size and the whole space, one row each."""
    lines = []
    for dataset, measured in report["datasets"].items():
        rows = [("selection", measured)]
        rows += [(f"{name} (same size)", baseline[dataset]) for name, baseline in report.get("baselines", {}).items()]
        whole = {"subset_size": report["space_size"], "subset_share": 1.0, "subset_mean": measured["space_mean"],
                 "top1_recall": 1.0}
        rows.append(("whole space", whole))
        width = max(len(name) for name, _ in rows)
        lines.append(f"{dataset:<{width}}  " + "  ".join(f"{label:>{max(len(label), 8)}}"
                                                        for _, label, _ in TABLE_MEASURES))
        for name, values in rows:
            cells = []
            for key, label, fmt in TABLE_MEASURES:
                value = values.get(key)
                text = "–" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)
                cells.append(f"{text:>{max(len(label), 8)}}")
            lines.append(f"{name:<{width}}  " + "  ".join(cells))
        lines.append("")
    return "\n".join(lines).rstrip("\n")
