"""Probabilistic distances between operation-usage distributions."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cbred_ray.cluster.distances import METRICS, hellinger, jensen_shannon, pairwise, symmetric_kl
from cbred_ray.errors import BadInput
from cbred_ray.graphs.features import op_usage
from cbred_ray.spaces.cell import nb201
from cbred_ray.spaces.cell.graph import KERNEL_TYPES, cell_graph
from cbred_ray.spaces.cell.nb201 import SPACE as NB201


def usage(n, seed):
    rng = np.random.default_rng(seed)
    return np.stack([op_usage(cell_graph(c, NB201), KERNEL_TYPES) for c in nb201.cells_of(rng.choice(nb201.SPACE_SIZE, n, replace=False))])


distributions = arrays(np.float64, 5, elements=st.floats(0, 1)).filter(lambda v: v.sum() > 1e-3).map(lambda v: v / v.sum())


@settings(max_examples=60, deadline=None)
@given(distributions, distributions, distributions)
def test_metric_axioms(p, q, r):
    for name, fn in METRICS.items():
        assert fn(p, p) == pytest.approx(0.0, abs=1e-7)
        assert fn(p, q) == pytest.approx(fn(q, p), rel=1e-9, abs=1e-12) and fn(p, q) >= 0
    for fn in (jensen_shannon, hellinger):  # metrics: the triangle inequality holds
        assert fn(p, r) <= fn(p, q) + fn(q, r) + 1e-9
    assert hellinger(p, q) <= 1.0 + 1e-12 and jensen_shannon(p, q) <= np.sqrt(np.log(2)) + 1e-12


def test_disjoint_supports_reach_the_bounds_and_kl_stays_finite():
    p, q = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert hellinger(p, q) == pytest.approx(1.0)
    assert jensen_shannon(p, q) == pytest.approx(np.sqrt(np.log(2)))
    assert np.isfinite(symmetric_kl(p, q)) and symmetric_kl(p, q) > symmetric_kl(p, np.array([0.5, 0.5]))
    assert symmetric_kl(p, q, smoothing=1e-3) < symmetric_kl(p, q, smoothing=1e-9)


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("block", [1, 7, 1024])
def test_pairwise_blocks_equal_the_single_pair_functions(metric, block):
    x, y = usage(23, 0), usage(11, 1)
    matrix = pairwise(x, y, metric, block=block)
    expected = np.array([[METRICS[metric](a, b) for b in y] for a in x])
    # sqrt(1 - affinity) turns a rounding error of 1e-16 near identical rows into 1e-8
    np.testing.assert_allclose(matrix, expected, rtol=1e-7, atol=1e-7)
    square = pairwise(x, metric=metric, block=block)
    assert np.all(np.diag(square) == 0) and np.allclose(square, square.T, atol=1e-10)


def test_bad_input_names_the_value():
    with pytest.raises(BadInput, match="wasserstein"):
        pairwise(usage(3, 0), metric="wasserstein")
    with pytest.raises(BadInput, match="sum to 1"):
        hellinger(np.array([0.5, 0.6]), np.array([0.5, 0.5]))
    with pytest.raises(BadInput, match="smoothing"):
        symmetric_kl(np.array([1.0, 0.0]), np.array([0.0, 1.0]), smoothing=0)
