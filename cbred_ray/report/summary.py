"""``cbred evaluate``'s small table: the selection beside the free baselines of its size and the whole space.

Its caveats (:mod:`cbred_ray.select.caveats`) follow it.
"""
from __future__ import annotations

import math

TABLE_MEASURES = (("subset_size", "size", "{:,}"), ("subset_share", "share", "{:.2%}"), ("subset_mean", "mean", "{:.2f}"),
                  ("top1_recall", "top-1 % recall", "{:.2f}"), ("best_kept", "best kept", "{:.0f}"),
                  ("top01_kept", "top-0.1 % kept", "{:,}"), ("expected_best_random_10", "E[best of 10]", "{:.2f}"),
                  ("expected_best_random_100", "E[best of 100]", "{:.2f}"))
"""The columns of :func:`evaluation_table`: a measure of :func:`~cbred_ray.evaluate.metrics.evaluate_subset`, its
heading and format."""


def evaluation_table(report: dict) -> str:
    """Per dataset, the selection, the free baselines of its size and the whole space, one row each; the whole
    space's row leaves E[best of N] out (it compares subsets of one size only)."""
    lines = []
    for dataset, measured in report["datasets"].items():
        rows = [("selection", measured)]
        rows += [(f"{name} (same size)", baseline[dataset]) for name, baseline in report.get("baselines", {}).items()]
        whole = {"subset_size": report["space_size"], "subset_share": 1.0, "subset_mean": measured["space_mean"],
                 "top1_recall": 1.0, "best_kept": 1.0, "top01_kept": measured["top01_size"]}
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
        if "best_kept" in measured:  # what a search confined to the selection can never find
            lines.append(f"the selection {'keeps' if measured['best_kept'] else 'cuts'} the space's best network and "
                         f"keeps {measured['top01_kept']} of its {measured['top01_size']} best (top 0.1 %)")
        lines.append("")
    return "\n".join(lines).rstrip("\n")
