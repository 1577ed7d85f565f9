"""The Arrow store: one Parquet dataset per stage plus ``manifest.json``."""
from cbred_ray.store.store import STAGES, Store

__all__ = ["STAGES", "Store"]
