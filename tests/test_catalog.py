"""The catalogue of statistics (torch-free) and the registry of their functions agree."""
from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cbred_ray.catalog import CATALOGUE, COUNT, DTYPE, DTYPE_NAMES, NETWORK_OF, StatisticInfo, check_options, fits
from cbred_ray.config import config_from_dict
from cbred_ray.errors import BadInput
from cbred_ray.stats.engine import effective_settings, validate_options
from cbred_ray.stats.registry import (
    BATCH_CONSTANTS,
    IMPLEMENTATIONS,
    STATISTICS,
    Implementation,
    catalogue_disagreements,
    check_catalogue,
)

ROOT = Path(__file__).resolve().parents[1]


def _signature_options(name: str) -> set[str]:
    """The options of a statistic as the engine has always read them off its function's signature."""
    stat = STATISTICS[name]
    params = inspect.signature(stat.fn).parameters
    return ({p for p in params if params[p].kind is inspect.Parameter.KEYWORD_ONLY
             or params[p].default is not inspect.Parameter.empty} - {"generator"}) \
        | ({"batch_size"} if stat.needs_batch else set()) | set(stat.input_options)


def test_the_registry_is_the_catalogue_with_functions():
    assert list(STATISTICS) == list(CATALOGUE) == list(NETWORK_OF) == list(IMPLEMENTATIONS)
    for name, info in CATALOGUE.items():
        stat = STATISTICS[name]
        assert (stat.name, stat.network, stat.higher_is_better, stat.kind, stat.needs_batch, stat.needs_labels,
                stat.batch_size, stat.random, stat.doc) == (info.name, info.network, info.higher_is_better, info.kind,
                                                            info.needs_batch, info.needs_labels, info.batch_size,
                                                            info.random, info.doc)
        assert NETWORK_OF[name] == info.network
        assert set(info.options) == _signature_options(name), name
    assert catalogue_disagreements(CATALOGUE, IMPLEMENTATIONS, BATCH_CONSTANTS) == []


def test_directions_and_kinds():
    assert {n for n, info in CATALOGUE.items() if info.kind == "cost"} == {"params", "macs"}
    assert [n for n, info in CATALOGUE.items() if not info.higher_is_better] == ["ntk_cond", "params", "macs"]
    assert all(info.doc for info in CATALOGUE.values())


def test_dtype_options_are_the_functions_torch_dtype_defaults():
    for name, info in CATALOGUE.items():
        params = inspect.signature(STATISTICS[name].fn).parameters
        dtypes = {p for p in params if isinstance(params[p].default, torch.dtype)}
        assert dtypes == {key for key, kind in info.options.items() if kind == DTYPE}, name
    assert all(isinstance(getattr(torch, dtype), torch.dtype) and getattr(torch, dtype).is_floating_point
               for dtype in DTYPE_NAMES)


def test_a_statistic_in_one_but_not_the_other_is_caught():
    extra = StatisticInfo("extra", "standard", True, "quality", False, False, None, False, {}, "a new statistic")
    with pytest.raises(ImportError, match="'extra' of cbred_ray.catalog has no function"):
        check_catalogue({**CATALOGUE, "extra": extra}, IMPLEMENTATIONS)
    with pytest.raises(ImportError, match="'extra' has a function in cbred_ray.stats.registry but no record"):
        check_catalogue(CATALOGUE, {**IMPLEMENTATIONS, "extra": Implementation(lambda net: 1.0)})
    check_catalogue({**CATALOGUE, "extra": extra}, {**IMPLEMENTATIONS, "extra": Implementation(lambda net: 1.0)})


def _with(name: str, **changes) -> dict[str, StatisticInfo]:
    return {**CATALOGUE, name: dataclasses.replace(CATALOGUE[name], **changes)}


def test_options_that_disagree_with_the_signature_are_caught():
    naswot = CATALOGUE["naswot_v1"]
    without_k = {key: kind for key, kind in naswot.options.items() if key != "k"}
    with pytest.raises(ImportError, match="the function of 'naswot_v1' accepts option 'k', which cbred_ray.catalog "
                                          "does not declare"):
        check_catalogue(_with("naswot_v1", options=without_k), IMPLEMENTATIONS)
    with pytest.raises(ImportError, match="declares option 'temperature' for 'naswot_v1', which its function"):
        check_catalogue(_with("naswot_v1", options={**naswot.options, "temperature": float}), IMPLEMENTATIONS)
    with pytest.raises(ImportError, match="option 'k' of 'naswot_v1': default 1e-05 is not of the type"):
        check_catalogue(_with("naswot_v1", options={**naswot.options, "k": bool}), IMPLEMENTATIONS)
    regions = CATALOGUE["linear_regions"].options
    with pytest.raises(ImportError, match="option 'dtype' of 'linear_regions'"):
        check_catalogue(_with("linear_regions", options={**regions, "dtype": str}), IMPLEMENTATIONS)
    with pytest.raises(ImportError, match="input option 'samples' of 'linear_regions' must be declared"):
        check_catalogue(_with("linear_regions", options={**regions, "samples": int}), IMPLEMENTATIONS)
    # an input option the engine does not make is not an option
    moved = {**IMPLEMENTATIONS, "linear_regions": IMPLEMENTATIONS["linear_regions"]._replace(input_options=("samples",))}
    with pytest.raises(ImportError, match="declares option 'resolution' for 'linear_regions'"):
        check_catalogue(CATALOGUE, moved)


def test_batch_labels_randomness_and_batch_sizes_that_disagree_are_caught():
    with pytest.raises(ImportError, match="'zen' has random=False, but its function takes 'generator'"):
        check_catalogue(_with("zen", random=False), IMPLEMENTATIONS)
    with pytest.raises(ImportError, match="'snip' has needs_labels=False, but its function takes 'labels'"):
        check_catalogue(_with("snip", needs_labels=False), IMPLEMENTATIONS)
    with pytest.raises(ImportError, match="'params' has needs_batch=True, but its function takes no 'batch'"):
        check_catalogue(_with("params", needs_batch=True, options={"batch_size": int}), IMPLEMENTATIONS)
    with pytest.raises(ImportError, match="gives 'meco' batch_size 2, its module 1"):
        check_catalogue(_with("meco", batch_size=2), IMPLEMENTATIONS, BATCH_CONSTANTS)


def test_the_registry_refuses_to_import_when_they_disagree():
    code = ("from cbred_ray import catalog\n"
            "catalog.CATALOGUE['extra'] = catalog.StatisticInfo('extra', 'standard', True, 'quality', False, False, "
            "None, False, {}, 'not written yet')\n"
            "import cbred_ray.stats.registry")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode != 0
    assert "ImportError: cbred_ray.catalog and cbred_ray.stats.registry disagree: statistic 'extra'" in done.stderr


@pytest.mark.parametrize("options, named", [
    ({"naswot_v2": {"temperature": 2}}, "unknown option 'temperature' for statistic 'naswot_v2'"),
    ({"ntk_cond": {"batch_size": 8}}, "'ntk_cond', which is not computed"),
    ({"naswot_v2": {"batch_size": 1}}, "option batch_size for 'naswot_v2' must be an integer >= 2"),
    ({"linear_regions": {"resolution": 0}}, "option resolution for 'linear_regions' must be a positive integer"),
    ({"linear_regions": {"dtype": "float65"}}, "option 'dtype' for 'linear_regions' must name a torch dtype"),
    ({"naswot_v2": {"train_mode": "yes"}}, "option 'train_mode' for 'naswot_v2' must be true or false"),
    ({"naswot_v1": {"k": "1e-3"}}, "option 'k' for 'naswot_v1' must be a number"),
    ({"ntk_cond": {"chunk_size": 1.5}}, "option 'chunk_size' for 'ntk_cond' must be an integer or null"),
])
def test_options_are_checked_alike_by_the_catalogue_the_engine_and_the_config(options, named):
    names = ["naswot_v1", "naswot_v2", "linear_regions"] + (["ntk_cond"] if "chunk_size" in str(options) else [])
    with pytest.raises(BadInput, match=named):
        check_options(names, options)
    with pytest.raises(BadInput, match=named):
        validate_options(names, options)
    with pytest.raises(BadInput, match=named):
        config_from_dict({"stats": {"names": names, "options": options}})


def test_good_options_pass_and_only_the_engine_makes_torch_dtypes():
    options = {"linear_regions": {"dtype": "float64", "samples": 300, "train_mode": False},
               "naswot_v1": {"k": 1, "batch_size": 64}, "ntk_cond": {"chunk_size": None}}
    names = ["naswot_v1", "linear_regions", "ntk_cond"]
    assert check_options(names, options) == options
    assert validate_options(names, options)["linear_regions"]["dtype"] is torch.float64
    assert effective_settings(names, options)["linear_regions"]["options"]["dtype"] == "float64"
    config = config_from_dict({"stats": {"names": [*names, "naswot_v2", "logsynflow"],
                                         "options": {"linear_regions": {"dtype": "float64"}}}})
    assert config.stats.options == {"linear_regions": {"dtype": "float64"}}


def test_option_types():
    assert fits(True, bool) and not fits(1, bool)
    assert fits(3, int) and not fits(True, int) and not fits(2.0, int)
    assert fits(2, float) and fits(0.5, float) and not fits(False, float) and not fits("0.5", float)
    assert fits(None, int | None) and fits(4, int | None) and not fits(None, int)
    assert fits(1, COUNT) and not fits(0, COUNT) and not fits(True, COUNT)
    assert fits("float32", DTYPE) and not fits("int8", DTYPE) and not fits(torch.float32, DTYPE)
