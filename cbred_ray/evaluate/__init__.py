"""Measuring a reduction against benchmark accuracies (pure functions, no Ray).

This sub-package is the only place in the library that reads accuracies; the
reduction itself (graphs, clustering, statistics, scoring) never imports it.
The importer of the official NAS-Bench-201 file, which needs torch, lives in
:mod:`cbred_ray.evaluate.nb201_import` and is not imported here.
"""
from cbred_ray.evaluate.benchmark import accuracy_columns, load_benchmark, validate_benchmark
from cbred_ray.evaluate.metrics import evaluate_subset, expected_best_of_random, top_recall

__all__ = [
    "accuracy_columns",
    "evaluate_subset",
    "expected_best_of_random",
    "load_benchmark",
    "top_recall",
    "validate_benchmark",
]
