"""The Arrow store: one Parquet dataset per stage plus ``manifest.json``."""
from cbred_ray.store.store import RUN_STAGES, STAGES, Store

__all__ = ["RUN_STAGES", "STAGES", "Store"]
