from pathlib import Path

import pytest
import yaml

from cbred_ray.config import apply_overrides, config_from_dict, load_config
from cbred_ray.errors import BadInput

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_shipped_configs_validate_and_are_distinct_runs():
    configs = {p.name: load_config(p) for p in sorted(CONFIGS.glob("*.yaml"))}
    hashes = {name: config.hash() for name, config in configs.items()}
    assert len(set(hashes.values())) == len(hashes), hashes
    for name, config in configs.items():  # the dump (the manifest's copy) validates to the same run
        assert config_from_dict(config.model_dump(mode="json")).hash() == hashes[name], name


PINNED_SELECT = {"min_cluster_size", "union_share", "union_cut"}
"""What the full and halving configs keep from the clustering they were measured with (op_usage, K = 16, one
cluster), since the quick default moved to kernel counts, K = 64 and a cut union (benchmarks/selection_rules.py)."""


def test_quick_and_full_defaults_differ_in_sampling_extra_statistics_and_the_pinned_clustering():
    quick, full = load_config(CONFIGS / "nb201_cifar100.yaml"), load_config(CONFIGS / "nb201_cifar100_full.yaml")
    assert quick.select.quick.enabled and not full.select.quick.enabled
    assert full.select.union_share is None and (full.cluster.features, full.cluster.k) == ("op_usage", 16)
    pinned = {name: getattr(full.select, name) for name in (*PINNED_SELECT, "quick")}
    assert quick.select.model_copy(update=pinned) == full.select
    assert set(quick.stats.names) < set(full.stats.names)
    assert quick.stats.model_copy(update={"names": full.stats.names}) == full.stats
    assert quick.cluster.model_copy(update={"features": "op_usage", "k": 16}) == full.cluster


def test_hash_changes_with_any_value():
    assert config_from_dict({}).hash() == config_from_dict({}).hash()
    assert config_from_dict({"seed": 1}).hash() != config_from_dict({}).hash()


@pytest.mark.parametrize("data, named", [
    ({"sed": 1}, "unknown config key 'sed'"),
    ({"cluster": {"k": "many"}}, "cluster.k"),
    ({"cluster": {"k": 1}}, "cluster.k"),
    ({"seed": -3}, "seed"),
    ({"stats": {"names": ["naswot_v2", "zen_v2"]}}, "zen_v2"),
    ({"select": {"statistics": ["params"]}, "stats": {"names": ["naswot_v2"]}}, "params"),
    ({"resources": {"num_gpus_per_actor": 99}}, "num_gpus_per_actor"),
    ({"stats": {"num_actors": 2}}, "unknown config key 'stats.num_actors'"),
    ({"resources": {"torch_threads": 0}}, "resources.torch_threads"),
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


def test_the_halving_config_differs_from_the_quick_one_in_how_clusters_are_sampled_and_the_pinned_clustering():
    quick, halving = load_config(CONFIGS / "nb201_cifar100.yaml"), load_config(CONFIGS / "nb201_cifar100_halving.yaml")
    assert halving.select.halving.enabled and not halving.select.quick.enabled
    kept = {name: getattr(quick.select, name) for name in (*PINNED_SELECT, "quick", "halving")}
    assert halving.select.model_copy(update=kept) == quick.select
    assert halving.cluster == load_config(CONFIGS / "nb201_cifar100_full.yaml").cluster
    assert (halving.stats, halving.graphs, halving.seed) == (quick.stats, quick.graphs, quick.seed)


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


def test_resources_are_recorded_but_not_part_of_the_hash():
    plain = config_from_dict({})
    wide = config_from_dict({"resources": {"num_actors": 7, "num_gpus_per_actor": 0.25, "torch_threads": 3,
                                           "holders": 2}})
    assert wide.hash() == plain.hash() and wide.identity() == plain.identity()
    assert "resources" not in wide.identity() and wide.resources.num_actors == 7
    assert config_from_dict({"stats": {"shard_size": 7}}).hash() != plain.hash()  # the shards' layout is identity


@pytest.mark.parametrize("text, named", [
    ("", "is empty"),
    ("# only a comment\n", "is empty"),
    ("- a\n- b\n", "must be a mapping of sections, got a list"),
    ("just words\n", "must be a mapping of sections, got a str"),
    ("seed: [1\n", "is not valid YAML"),
])
def test_an_empty_or_non_mapping_yaml_is_refused_with_one_line(tmp_path, text, named):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(BadInput, match=named) as err:
        load_config(path)
    assert "\n" not in str(err.value) and "c.yaml" in str(err.value)


def test_a_config_lays_its_differences_over_its_base(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "images.npz").write_bytes(b"")
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({
        "seed": 5, "stats": {"names": ["naswot_v2", "params"], "data": {"source": "images.npz", "batch_size": 16}},
        "cluster": {"k": 8, "n_init": 3}, "select": {"statistics": ["naswot_v2"]}}))
    (tmp_path / "sub" / "child.yaml").write_text(yaml.safe_dump({
        "base": "../base.yaml", "name": "child", "cluster": {"k": 12}, "stats": {"data": {"batch_size": 32}}}))
    child = load_config(tmp_path / "sub" / "child.yaml")
    assert child.name == "child" and child.seed == 5
    assert child.cluster.k == 12 and child.cluster.n_init == 3  # mappings merge key by key
    assert child.stats.names == ("naswot_v2", "params") and child.stats.data.batch_size == 32
    assert child.stats.data.source == str((tmp_path / "images.npz").resolve())  # relative to the base's folder
    assert child.hash() == config_from_dict({
        "name": "child", "seed": 5, "cluster": {"k": 12, "n_init": 3}, "select": {"statistics": ["naswot_v2"]},
        "stats": {"names": ["naswot_v2", "params"], "data": {"source": str((tmp_path / "images.npz").resolve()),
                                                             "batch_size": 32}}}).hash()


def test_a_base_cycle_or_a_missing_base_is_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(BadInput, match="cycle"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "c.yaml").write_text("base: nowhere.yaml\n")
    with pytest.raises(BadInput, match="nowhere.yaml"):
        load_config(tmp_path / "c.yaml")


def test_set_overrides_are_validated_like_the_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"cluster": {"k": 8}}))
    config = load_config(path, ["cluster.k=[4, 6]", "seed=9", "stats.data.source=null", "resources.num_actors=2"])
    assert config.cluster.ks == (4, 6) and config.seed == 9 and config.stats.data.source is None
    assert config.resources.num_actors == 2
    assert load_config(path, ["resources.num_actors=2"]).hash() == load_config(path).hash()
    for override, named in [("cluster.k=1", "cluster.k"), ("cluster.kk=3", "unknown config key 'cluster.kk'"),
                            ("cluster", "give section.key=value"), ("cluster.k.x=1", "'cluster.k' is a value"), ("seed.x=1", "'seed'"),
                            ("cluster.k=[1", "not valid YAML")]:
        with pytest.raises(BadInput, match=named) as err:
            load_config(path, [override])
        assert "\n" not in str(err.value)


def test_later_overrides_win_and_mappings_merge():
    data = apply_overrides({"cluster": {"k": 8, "n_init": 2}}, ["cluster.k=4", "cluster.k=6"])
    assert data == {"cluster": {"k": 6, "n_init": 2}}
