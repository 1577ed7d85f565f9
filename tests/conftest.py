"""Shared fixtures: the read-only shared data beside the checkout, and one local Ray."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NB201_TABLE = SHARED / "nb201" / "nb201_test_accuracy.parquet"
CIFAR_SAMPLE = SHARED / "cifar100" / "cifar100_sample25.npz"


@pytest.fixture(scope="session")
def nb201_table() -> Path:
    if not NB201_TABLE.is_file():
        pytest.skip("NB201 ground-truth table not present beside the checkout")
    return NB201_TABLE


@pytest.fixture(scope="session")
def ray_local():
    """A real in-process Ray cluster for the integration tests (2 CPUs)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield ray
    ray.shutdown()
