"""Training-free statistics of untrained networks, as plain functions (no Ray here)."""

from cbred_ray.stats.cost import macs, params
from cbred_ray.stats.data import load_batch
from cbred_ray.stats.engine import compute_stats, validate_stat_names
from cbred_ray.stats.linear_regions import linear_regions, region_inputs
from cbred_ray.stats.naswot import naswot_v1, naswot_v2
from cbred_ray.stats.ntk import ntk_cond
from cbred_ray.stats.numerics import StatisticFailed
from cbred_ray.stats.registry import STATISTICS, Statistic
from cbred_ray.stats.synflow import logsynflow, synflow

__all__ = [
    "STATISTICS",
    "Statistic",
    "StatisticFailed",
    "compute_stats",
    "linear_regions",
    "load_batch",
    "logsynflow",
    "macs",
    "naswot_v1",
    "naswot_v2",
    "ntk_cond",
    "params",
    "region_inputs",
    "synflow",
    "validate_stat_names",
]
