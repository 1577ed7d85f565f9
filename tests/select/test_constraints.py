import numpy as np
import pandas as pd
import pytest

from cbred_ray.errors import BadInput
from cbred_ray.select.constraints import within_budget

COSTS = pd.DataFrame({"params": [100e3, 400e3, 600e3, np.nan], "macs": [10e6, 50e6, 90e6, 20e6]})


def test_each_budget_and_both():
    assert within_budget(COSTS).tolist() == [True] * 4
    assert within_budget(COSTS, max_params=500e3).tolist() == [True, True, False, False]  # unknown cost: out
    assert within_budget(COSTS, max_macs=30e6).tolist() == [True, False, False, True]
    assert within_budget(COSTS, max_params=500e3, max_macs=30e6).tolist() == [True, False, False, False]
    assert within_budget(COSTS, max_params=400e3).tolist()[1]  # the budget is inclusive


@pytest.mark.parametrize("kwargs, named", [({"max_params": 10.0}, "no architecture meets the budget"),
                                           ({"max_macs": -1.0}, "max_macs must be a positive number"),
                                           ({"max_params": float("nan")}, "max_params must be a positive number")])
def test_bad_or_empty_budgets_are_refused(kwargs, named):
    with pytest.raises(BadInput, match=named):
        within_budget(COSTS, **kwargs)


def test_a_budget_needs_its_cost_column():
    with pytest.raises(BadInput, match="'macs' statistic"):
        within_budget(COSTS[["params"]], max_macs=1e6)
