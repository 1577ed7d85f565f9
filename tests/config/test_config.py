from pathlib import Path

import pytest
import yaml

from cbred_ray.config import config_from_dict, load_config
from cbred_ray.errors import BadInput

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.yaml")))
def test_shipped_configs_validate(name):
    assert load_config(CONFIGS / name).hash()


def test_quick_and_full_defaults_differ_only_in_sampling_and_the_extra_full_statistics():
    quick, full = load_config(CONFIGS / "nb201_cifar100.yaml"), load_config(CONFIGS / "nb201_cifar100_full.yaml")
    assert quick.select.quick.enabled and not full.select.quick.enabled
    assert quick.select.model_copy(update={"quick": full.select.quick}) == full.select
    assert set(quick.stats.names) < set(full.stats.names)
    assert quick.stats.model_copy(update={"names": full.stats.names}) == full.stats and quick.cluster == full.cluster


def test_hash_changes_with_any_value():
    assert config_from_dict({}).hash() == config_from_dict({}).hash()
    assert config_from_dict({"seed": 1}).hash() != config_from_dict({}).hash()


@pytest.mark.parametrize("data, named", [
    ({"sed": 1}, "unknown config key 'sed'"),
    ({"cluster": {"k": "many"}}, "cluster.k"),
    ({"cluster": {"k": 1}}, "cluster.k"),
    ({"seed": -3}, "seed"),
    ({"stats": {"names": ["naswot_v2", "zen"]}}, "zen"),
    ({"select": {"statistics": ["params"]}, "stats": {"names": ["naswot_v2"]}}, "params"),
    ({"stats": {"num_gpus_per_actor": 99}}, "num_gpus_per_actor"),
    ({"cluster": {"k": [8, 1]}}, "every K must be in"),
    ({"cluster": {"k": []}}, "a K grid needs at least one value"),
    ({"cluster": {"method": "spectral", "eta": [0.1, -1]}}, "eta must be positive"),
    ({"cluster": {"criterion": "eigengap"}}, "criterion 'eigengap' needs method 'spectral'"),
    ({"cluster": {"method": "spectral", "features": "op_counts"}}, "use features 'op_usage'"),
    ({"cluster": {"edit_costs": {"swap": 1}}}, "unknown config key 'cluster.edit_costs.swap'"),
    ({"cluster": {"edit_costs": {"insert": -1}}}, "cluster.edit_costs.insert"),
    ({"cluster": {"method": "dbscan"}}, "cluster.method"),
    ({"select": {"top_fraction": 0}}, "select.top_fraction"),
    ({"select": {"top_fraction": 0.05, "quick": {"enabled": True}}}, "top_fraction ranks every member"),
    ({"select": {"top_fraction": 0.05, "halving": {"enabled": True}}}, "it needs halving.enabled false"),
    ({"select": {"quick": {"enabled": True}, "halving": {"enabled": True}}}, "quick and halving .* enable one"),
    ({"select": {"halving": {"budget": 0}}}, "select.halving.budget"),
    ({"select": {"halving": {"budget": 1.5}}}, "select.halving.budget"),
    ({"select": {"constraints": {"max_params": -5}}}, "select.constraints.max_params"),
    ({"select": {"constraints": {"apply": "during"}}}, "select.constraints.apply"),
])
def test_bad_configs_are_refused_with_one_line(data, named):
    with pytest.raises(BadInput, match=named) as err:
        config_from_dict(data)
    assert "\n" not in str(err.value)


def test_the_halving_config_differs_from_the_quick_one_only_in_how_clusters_are_sampled():
    quick, halving = load_config(CONFIGS / "nb201_cifar100.yaml"), load_config(CONFIGS / "nb201_cifar100_halving.yaml")
    assert halving.select.halving.enabled and not halving.select.quick.enabled
    assert halving.select.model_copy(update={"quick": quick.select.quick, "halving": quick.select.halving}) == quick.select
    assert (halving.stats, halving.cluster, halving.graphs, halving.seed) == (quick.stats, quick.cluster, quick.graphs,
                                                                             quick.seed)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(BadInput, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1,\n")
    with pytest.raises(BadInput, match="not valid YAML"):
        load_config(bad)


def test_relative_data_path_resolves_against_the_config(tmp_path):
    (tmp_path / "imgs.npz").write_bytes(b"")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"stats": {"data": {"source": "imgs.npz"}}}))
    assert load_config(path).stats.data.source == str(tmp_path / "imgs.npz")


def test_relative_precomputed_statistics_resolve_against_the_config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"stats": {"precomputed": "../results/stats.parquet"}}))
    assert load_config(path).stats.precomputed == str((tmp_path.parent / "results" / "stats.parquet").resolve())


def test_grids_and_single_values_read_alike():
    grid = config_from_dict({"cluster": {"method": "spectral", "k": [4, 8], "eta": [0.1, 1]}}).cluster
    single = config_from_dict({"cluster": {"k": 4, "eta": 0.5}}).cluster
    assert grid.ks == (4, 8) and grid.etas == (0.1, 1.0)
    assert single.ks == (4,) and single.etas == (0.5,)


@pytest.mark.parametrize("options, named", [
    ({"naswot_v2": {"temperature": 2}}, "unknown option 'temperature'"),
    ({"ntk_cond": {"batch_size": 8}}, "'ntk_cond', which is not computed"),
    ({"naswot_v2": {"batch_size": 1}}, "batch_size"),
])
def test_statistic_options_are_checked_against_the_statistics(options, named):
    with pytest.raises(BadInput, match=named):
        config_from_dict({"stats": {"options": options}})


def test_statistic_options_are_part_of_the_hash():
    plain = config_from_dict({})
    tuned = config_from_dict({"stats": {"options": {"naswot_v2": {"batch_size": 32}}}})
    assert plain.hash() != tuned.hash()
