import math

import pytest
import torch
from stats_helpers import ALL_CONV, MIXED, SMALL, batch16, labels16

from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell.network import SMALL_NETWORK, build_network, build_thin_network
from cbred_ray.stats import STATISTICS, Statistic, compute_stats, registry, validate_stat_names
from cbred_ray.stats.engine import _plan
from cbred_ray.stats.ntk import ntk_cond

NAMES = ["naswot_v1", "naswot_v2", "ntk_cond", "linear_regions", "synflow", "logsynflow", "jacov", "l2_norm",
         "meco", "grad_norm", "snip", "grasp", "fisher", "plain", "epe_nas", "zen", "az_expressivity", "az_progressivity",
         "az_trainability", "az_complexity", "zico", "swap", "vkdnw", "vkdnw_entropy", "params", "macs"]


def test_registry_names_and_kinds():
    assert list(STATISTICS) == NAMES
    assert {n for n, s in STATISTICS.items() if s.kind == "cost"} == {"params", "macs"}
    assert all(not STATISTICS[n].higher_is_better for n in ("params", "macs"))
    assert [n for n, s in STATISTICS.items() if s.needs_batch] == ["naswot_v1", "naswot_v2", "ntk_cond", "linear_regions",
                                                                  "jacov", "meco", "grad_norm", "snip", "grasp",
                                                                  "fisher", "plain", "epe_nas", "zico", "swap"]
    assert [n for n, s in STATISTICS.items() if s.needs_labels] == ["grad_norm", "snip", "grasp", "fisher", "plain",
                                                                   "epe_nas", "zico"]
    assert all(s.doc for s in STATISTICS.values())


def test_all_statistics_computed():
    batch = batch16()
    results = compute_stats(MIXED, NAMES, batch, seed=0, labels=labels16(), **SMALL)
    assert set(results) == set(NAMES)
    for value, reason in results.values():
        assert reason is None and math.isfinite(value)


def test_deterministic_for_a_seed():
    batch = batch16()
    a = compute_stats(MIXED, NAMES, batch, seed=5, labels=labels16(), **SMALL)
    b = compute_stats(MIXED, NAMES, batch, seed=5, labels=labels16(), **SMALL)
    c = compute_stats(MIXED, ["naswot_v2"], batch, seed=6, **SMALL)
    assert a == b
    assert c["naswot_v2"][0] != a["naswot_v2"][0]


def test_unknown_statistic_is_bad_input():
    batch = batch16()
    with pytest.raises(BadInput, match="zen_v2"):
        compute_stats(MIXED, ["naswot_v2", "zen_v2"], batch, seed=0, **SMALL)
    with pytest.raises(BadInput, match="ntk"):
        validate_stat_names(["params", "ntk"])
    with pytest.raises(BadInput):
        validate_stat_names("params")
    validate_stat_names(NAMES)


def test_batch_statistic_without_batch_is_bad_input():
    with pytest.raises(BadInput, match="naswot_v2"):
        compute_stats(MIXED, ["naswot_v2"], None, seed=0, **SMALL)
    assert compute_stats(MIXED, ["params"], None, seed=0, **SMALL)["params"][1] is None


def test_failing_statistic_does_not_stop_others(monkeypatch):
    batch = batch16()
    def broken(net):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setitem(registry.STATISTICS, "nan_stat", Statistic("nan_stat", lambda net: float("nan"), True, False, "quality", "NaN"))
    monkeypatch.setitem(registry.STATISTICS, "broken", Statistic("broken", broken, True, False, "quality", "raises"))
    results = compute_stats(MIXED, ["nan_stat", "broken", "params"], batch, seed=0, **SMALL)
    assert results["nan_stat"][0] is None and "nan" in results["nan_stat"][1]
    assert results["broken"] == (None, "RuntimeError: boom second line")
    assert results["params"][0] > 0 and results["params"][1] is None


def test_oom_retries_naswot_on_half_batch(monkeypatch):
    batch = batch16()
    calls = []

    def fake_naswot(net, batch, train_mode=True):
        calls.append(len(batch))
        if len(batch) > 4:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return 1.0

    monkeypatch.setitem(registry.STATISTICS, "naswot_v2", Statistic("naswot_v2", fake_naswot, True, True, "quality", ""))
    value, note = compute_stats(MIXED, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"]
    assert calls == [16, 8, 4]
    assert value == 1.0 and "4 of 16" in note


def test_disconnected_output_gives_low_or_null_naswot():
    batch = batch16()
    cut = ["nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "none", "none", "none"]
    results = compute_stats(cut, ["naswot_v2", "synflow"], batch, seed=0, **SMALL)
    connected = compute_stats(ALL_CONV, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"][0]
    value, reason = results["naswot_v2"]
    assert (value is None and reason) or value < connected
    assert results["synflow"][0] is None and "zero" in results["synflow"][1]


def test_all_none_cell_yields_null_naswot():
    batch = batch16()
    value, reason = compute_stats(["none"] * 6, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"]
    assert value is None and "singular" in reason


def test_options_reach_each_statistic_and_unknown_ones_are_refused():
    batch = batch16()
    default = compute_stats(MIXED, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"][0]
    train = compute_stats(MIXED, ["naswot_v2"], batch, seed=0, options={"naswot_v2": {"train_mode": True}},
                          **SMALL)["naswot_v2"][0]
    evaluated = compute_stats(MIXED, ["naswot_v2"], batch, seed=0, options={"naswot_v2": {"train_mode": False}},
                              **SMALL)["naswot_v2"][0]
    assert default == train != evaluated  # the published default is train mode
    first8 = compute_stats(MIXED, ["naswot_v2"], batch[:8], seed=0, **SMALL)["naswot_v2"][0]
    sliced = compute_stats(MIXED, ["naswot_v2"], batch, seed=0, options={"naswot_v2": {"batch_size": 8}},
                           **SMALL)["naswot_v2"][0]
    assert sliced == first8
    with pytest.raises(BadInput, match="unknown option 'temperature' for statistic 'naswot_v2'"):
        compute_stats(MIXED, ["naswot_v2"], batch, seed=0, options={"naswot_v2": {"temperature": 1}}, **SMALL)
    with pytest.raises(BadInput, match="'ntk_cond', which is not computed"):
        compute_stats(MIXED, ["naswot_v2"], batch, seed=0, options={"ntk_cond": {"batch_size": 8}}, **SMALL)
    with pytest.raises(BadInput, match="batch_size for 'params'|unknown option 'batch_size' for statistic 'params'"):
        compute_stats(MIXED, ["params"], batch, seed=0, options={"params": {"batch_size": 8}}, **SMALL)


def test_statistics_that_share_a_pass_give_the_values_they_give_alone():
    batch = batch16()
    names = ["naswot_v1", "naswot_v2", "synflow", "logsynflow"]
    together = compute_stats(MIXED, names, batch, seed=0, **SMALL)
    alone = {name: compute_stats(MIXED, [name], batch, seed=0, **SMALL)[name] for name in names}
    assert together == alone and all(reason is None for _, reason in together.values())


def test_a_pass_is_shared_only_for_the_same_images_and_pass_options():
    sharing = {name: entry.shares for name, entry in _plan(["naswot_v1", "naswot_v2", "ntk_cond"], {}).items()}
    assert sharing == {"naswot_v1": True, "naswot_v2": True, "ntk_cond": False}
    for options in ({"naswot_v1": {"batch_size": 64}}, {"naswot_v2": {"train_mode": False}}):
        assert not any(entry.shares for entry in _plan(["naswot_v1", "naswot_v2"], options).values())
    size, pass_opts, other_opts, shared = _plan(["naswot_v1", "naswot_v2"], {"naswot_v1": {"k": 1e-3}})["naswot_v1"]
    assert (size, pass_opts, other_opts, shared) == (128, {}, {"k": 1e-3}, True)


def test_each_statistic_reads_its_published_number_of_images():
    batch = torch.randn(40, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    assert STATISTICS["ntk_cond"].batch_size == 32 and STATISTICS["naswot_v2"].batch_size == 128
    value = compute_stats(MIXED, ["ntk_cond"], batch, seed=0, **SMALL)["ntk_cond"][0]
    torch.manual_seed(0)
    assert value == ntk_cond(build_network(MIXED, **SMALL_NETWORK), batch[:32])


def test_repeats_are_summarised_as_mean_and_spread():
    from cbred_ray.stats.engine import summarise_repeats

    runs = [{"a": (1.0, None), "b": (None, "singular")}, {"a": (3.0, None), "b": (2.0, None)},
            {"a": (2.0, None), "b": (None, "singular")}]
    summary = summarise_repeats(runs, ["a", "b"])
    assert summary["a"] == (2.0, pytest.approx(1.0), None)
    assert summary["b"] == (2.0, None, "2 of 3 repeats failed: singular")
    assert summarise_repeats(runs[:1], ["b"])["b"] == (None, None, "singular")


def test_linear_region_inputs_are_config_values():
    from cbred_ray.stats.linear_regions import linear_regions, region_inputs

    batch = batch16()
    options = {"linear_regions": {"resolution": 5, "samples": 300}}
    value = compute_stats(MIXED, ["linear_regions"], batch, seed=2, options=options, **SMALL)["linear_regions"][0]
    torch.manual_seed(2)
    net = build_thin_network(MIXED, 100)
    assert value == linear_regions(net, region_inputs(300, 5, seed=2, source_batch=batch))
    assert value != compute_stats(MIXED, ["linear_regions"], batch, seed=2, **SMALL)["linear_regions"][0]
    with pytest.raises(BadInput, match="resolution for 'linear_regions' must be a positive integer"):
        compute_stats(MIXED, ["linear_regions"], batch, seed=2, options={"linear_regions": {"resolution": 0}}, **SMALL)


def test_effective_settings_list_every_knob_with_its_default_or_given_value():
    from cbred_ray.stats.engine import effective_settings

    settings = effective_settings(NAMES, {"ntk_cond": {"batch_size": 72}, "linear_regions": {"resolution": 5}})
    assert settings["ntk_cond"]["images"] == 72 and settings["naswot_v2"]["images"] == 128
    assert settings["naswot_v1"]["options"] == {"train_mode": True, "k": 1e-5}
    assert settings["naswot_v1"]["shared_pass"] == settings["naswot_v2"]["shared_pass"] == "naswot"
    assert settings["linear_regions"]["options"]["resolution"] == 5 and settings["linear_regions"]["options"]["samples"] == 9000
    assert settings["linear_regions"]["options"]["dtype"] == "float32"
    assert effective_settings(["naswot_v2"])["naswot_v2"]["shared_pass"] is None
