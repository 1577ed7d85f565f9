"""cbred-ray: C-BRED, clustering-based reduction of neural architecture search spaces, distributed with Ray.

From Python (``docs/python.md``)::

    import cbred_ray

    result = cbred_ray.reduce("configs/nb201_cifar100.yaml", out="stores/quick")
    cbred_ray.open_store("stores/quick").selection
    cbred_ray.list_spaces()

Importing the package loads neither torch nor Ray: they load when a reduction runs or a network is built.
"""
from __future__ import annotations

from cbred_ray.api import ReductionResult, open_store, reduce
from cbred_ray.errors import BadInput
from cbred_ray.spaces import Space, build_space, list_spaces, register_space

__all__ = ["BadInput", "ReductionResult", "Space", "build_space", "list_spaces", "open_store", "reduce",
           "register_space"]
