"""The ``cbred`` command as a user runs it: exit codes, one-line errors, untouched stores.

Commands that start Ray, and one refusal, run as real processes (``cbred_process``); the other
refusals call the command's ``main`` in this process (``cbred``), with its exit code, stdout and
stderr as the process would have them, without paying for a new interpreter each time.
"""
import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cbred_ray.cli import main
from cbred_ray.spaces.cell import nb201

REPO = Path(__file__).resolve().parents[2]


def cbred_process(*args):
    return subprocess.run([sys.executable, "-m", "cbred_ray.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=600)


def cbred(*args):
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exit_:  # argparse's own refusals
            code = exit_.code
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_bad_input(result, named):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0], result.stderr


@pytest.fixture()
def config(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"cluster": {"k": 4}}))
    return path


def test_unknown_config_key_exits_2_and_creates_no_store(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"cluster": {"kk": 4}}))
    result = cbred_process("run", path, "--out", tmp_path / "store")
    assert_bad_input(result, "cluster.kk")
    assert not (tmp_path / "store").exists()


def test_missing_config_value_type(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: one\n")
    assert_bad_input(cbred("run", path, "--out", tmp_path / "s"), "'one'")


def test_a_different_config_leaves_an_existing_store_as_it_was(tmp_path, config):
    store = tmp_path / "store"
    store.mkdir()
    (store / "manifest.json").write_text(json.dumps({"config_hash": "0123456789abcdef", "stages": {}}))
    before = snapshot(store)
    assert_bad_input(cbred("run", config, "--out", store), "0123456789abcdef")
    assert snapshot(store) == before


def test_bad_data_source_is_refused_before_any_write(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"stats": {"data": {"source": "missing.npz"}}}))
    assert_bad_input(cbred("run", path, "--out", tmp_path / "s"), "missing.npz")
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("line, named", [
    ("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|", "node 3 needs 3 edges"),
    ("|nor_conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nor_conv_7x7"),
])
def test_stats_with_a_bad_arch_string(tmp_path, line, named):
    archs = tmp_path / "archs.txt"
    archs.write_text(nb201.format_cell((3,) * 6) + "\n" + line + "\n")
    result = cbred("stats", "--archs", archs, "--stats", "naswot_v2", "--out", tmp_path / "s")
    assert_bad_input(result, named)
    assert "entry 2" in result.stderr
    assert not (tmp_path / "s").exists()


def test_stats_with_an_unknown_statistic(tmp_path):
    archs = tmp_path / "archs.txt"
    archs.write_text(nb201.format_cell((3,) * 6) + "\n")
    assert_bad_input(cbred("stats", "--archs", archs, "--stats", "naswot_v2,grasp_v2", "--out", tmp_path / "s"),
                     "grasp_v2")


def test_stats_from_a_config_uses_its_stats_section_and_seed(tmp_path):
    archs = tmp_path / "archs.txt"
    archs.write_text("\n".join(nb201.format_cell(c) for c in nb201.cell_range(3100, 3103)) + "\n")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"seed": 3, "stats": {"names": ["naswot_v2", "params"], "data": {"batch_size": 8}},
                                      "resources": {"num_actors": 1},
                                      "select": {"statistics": ["naswot_v2"]}}))
    result = cbred_process("stats", "--config", config, "--archs", archs, "--out", tmp_path / "s", "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statistics"] == ["naswot_v2", "params"]
    stats = pd.read_parquet(tmp_path / "s" / "stats")
    assert len(stats) == 3 and stats["naswot_v2"].notna().all()
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["config"]["stats"]["data"]["batch_size"] == 8


@pytest.mark.parametrize("flags, named", [
    (["--batch-size", "0"], "data.batch_size"), (["--seed", "-1"], "'seed': -1"), (["--num-classes", "0"], "num_classes"),
])
def test_stats_flags_are_validated(tmp_path, flags, named):
    archs = tmp_path / "archs.txt"
    archs.write_text(nb201.format_cell((3,) * 6) + "\n")
    assert_bad_input(cbred("stats", "--archs", archs, "--stats", "params", "--out", tmp_path / "s", *flags), named)
    assert not (tmp_path / "s").exists()


def test_stats_refuses_flags_next_to_a_config(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"seed": 3}))
    assert_bad_input(cbred("stats", "--config", config, "--stats", "params", "--out", tmp_path / "s"), "--stats")
    assert_bad_input(cbred("stats", "--out", tmp_path / "s"), "--stats")
    assert not (tmp_path / "s").exists()


def test_export_of_a_missing_store_is_bad_input(tmp_path):
    assert_bad_input(cbred("export", tmp_path / "nowhere", "--out", tmp_path / "x.parquet"), "manifest.json is missing")
    assert not (tmp_path / "x.parquet").exists()


def test_report_of_a_missing_store_or_with_no_seeds_is_bad_input(tmp_path, nb201_table):
    assert_bad_input(cbred("report", tmp_path / "nowhere", "--benchmark", nb201_table), "manifest.json is missing")
    assert_bad_input(cbred("report", tmp_path / "nowhere", "--benchmark", nb201_table, "--seeds", "0"), "--seeds")
    assert not (tmp_path / "nowhere").exists()


def test_report_of_a_statistics_only_store_is_bad_input(tmp_path, nb201_table):
    from cbred_ray.store import Store

    Store(tmp_path / "s").write_manifest({"kind": "stats", "config_hash": "x", "stages": {}})
    before = snapshot(tmp_path / "s")
    assert_bad_input(cbred("report", tmp_path / "s", "--benchmark", nb201_table), "not a reduction")
    assert snapshot(tmp_path / "s") == before


@pytest.fixture(scope="module")
def selection_store(tmp_path_factory):
    """A store with a hand-written selection, enough for `cbred evaluate`."""
    import pyarrow as pa

    from cbred_ray.config import RunConfig
    from cbred_ray.store import Store

    root = tmp_path_factory.mktemp("ev") / "store"
    store = Store(root)
    store.write_manifest({"kind": "run", "config": RunConfig().model_dump(mode="json"), "config_hash": "x", "status": "done",
                          "stages": {}})
    archs = [nb201.format_cell(c) for c in nb201.cell_range(0, 40)]
    store.write_stage("selection", pa.table({"arch_str": archs}))
    return root


def test_evaluate_prints_one_json_object(selection_store, nb201_table):
    result = cbred("evaluate", selection_store, "--benchmark", nb201_table)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["datasets"]["cifar100"]["subset_size"] == 40


def test_evaluate_reads_the_built_in_table_by_default(selection_store, nb201_table):
    given = json.loads(cbred("evaluate", selection_store, "--benchmark", nb201_table).stdout)
    built_in = cbred("evaluate", selection_store)
    assert built_in.returncode == 0, built_in.stderr
    assert json.loads(built_in.stdout) == given


def test_evaluate_refuses_a_table_without_arch_str(selection_store, tmp_path):
    table = tmp_path / "t.parquet"
    pd.DataFrame({"arch": ["x"], "cifar100_test_acc": [1.0]}).to_parquet(table)
    before = snapshot(selection_store)
    assert_bad_input(cbred("evaluate", selection_store, "--benchmark", table), "arch_str")
    assert snapshot(selection_store) == before


def test_evaluate_refuses_unknown_architectures(selection_store, tmp_path):
    table = tmp_path / "t.parquet"
    pd.DataFrame({"arch_str": ["|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"],
                  "cifar100_test_acc": [1.0]}).to_parquet(table)
    assert_bad_input(cbred("evaluate", selection_store, "--benchmark", table), "conv~0")


def test_evaluate_refuses_a_missing_table(selection_store, tmp_path):
    assert_bad_input(cbred("evaluate", selection_store, "--benchmark", tmp_path / "nope.parquet"), "nope.parquet")


def test_run_then_evaluate_through_the_command_line(tmp_path, nb201_table):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"stats": {"names": ["naswot_v2", "logsynflow"], "data": {"batch_size": 8}},
                                    "cluster": {"k": 3, "n_init": 1},
                                    "select": {"quick": {"enabled": True, "sample_per_cluster": 2}}}))
    store = tmp_path / "store"
    run = cbred_process("run", path, "--out", store, "--quiet")
    assert run.returncode == 0, run.stderr
    assert run.stderr.strip() == "", run.stderr  # quiet: not a line from cbred or from Ray
    [line] = run.stdout.strip().splitlines()
    summary = json.loads(line)
    assert summary["selection"] == str(store / "selection")
    assert summary["selected"] == pd.read_parquet(store / "selection").shape[0] > 0
    manifest = json.loads((store / "manifest.json").read_text())
    assert "resources" not in manifest["config"] and manifest["sessions"][0]["overrides"] == []
    assert isinstance(summary["caveats"], list)
    evaluation = cbred_process("evaluate", store, "--benchmark", nb201_table, "--compact")
    assert evaluation.returncode == 0, evaluation.stderr
    report = json.loads(evaluation.stdout)
    assert report["n_selected"] == summary["selected"] and report["caveats"] == summary["caveats"]
    # the free baselines, at the selection's size, over the architectures the run chose from
    assert set(report["baselines"]) == {"Params-Quantiled", "MACs-Quantiled"}
    for name in report["baselines"]:
        assert report["baselines"][name]["cifar10"]["subset_size"] == report["n_selected"]
    table = evaluation.stderr.splitlines()
    for row in ("selection", "Params-Quantiled (same size)", "MACs-Quantiled (same size)", "whole space"):
        assert any(line.startswith(row) for line in table), evaluation.stderr
    assert all(len(str(v).split(".")[-1]) <= 6 for v in report["datasets"]["cifar10"].values())  # people read it


@pytest.mark.parametrize("text", ["", "# nothing here\n", "[1, 2]\n"])
def test_an_empty_or_non_mapping_config_exits_2_and_writes_nothing(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    assert_bad_input(cbred("run", path, "--out", tmp_path / "store"), "c.yaml")
    assert not (tmp_path / "store").exists()


def test_a_k_no_clustering_can_give_is_refused_before_the_graphs_are_written(tmp_path):
    """NB201 has few distinct operation-usage vectors: K 500 cannot be had, and is refused up front."""
    assert_bad_input(cbred("run", REPO / "configs" / "nb201_tiny.yaml", "--out", tmp_path / "store",
                           "--set", "cluster.k=500"), "cluster.k = 500 exceeds the")
    assert not (tmp_path / "store").exists()


def test_set_overrides_are_refused_like_the_yaml(tmp_path, config):
    assert_bad_input(cbred("run", config, "--out", tmp_path / "store", "--set", "cluster.k=one"), "cluster.k")
    assert_bad_input(cbred("run", config, "--out", tmp_path / "store", "--set", "cluster"), "section.key=value")
    assert_bad_input(cbred("stats", "--stats", "params", "--out", tmp_path / "store", "--set", "seed=1"),
                     "needs --config")
    assert not (tmp_path / "store").exists()


def test_an_out_that_is_a_file_exits_2_for_every_command(tmp_path, config, selection_store):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    folder = tmp_path / "folder"
    folder.mkdir()
    for args, named in [
        (("run", config, "--out", taken), "is a file"),
        (("stats", "--stats", "params", "--out", taken), "is a file"),
        (("report", selection_store, "--out", taken), "is a file"),
        (("export", selection_store, "--stage", "selection", "--out", folder), "is a directory"),
        (("import-nb201", tmp_path / "x.pth", "--out", folder), "is a directory"),
    ]:
        assert_bad_input(cbred(*args), named)
    assert taken.read_text() == "mine" and list(folder.iterdir()) == []


def test_version_and_plain_help():
    version = cbred("--version")
    assert version.returncode == 0 and version.stdout.startswith("cbred ")
    for command in ((), ("run",), ("stats",), ("report",), ("evaluate",), ("export",), ("import-nb201",)):
        shown = cbred(*command, "--help")
        assert shown.returncode == 0
        assert "``" not in shown.stdout and ":class:" not in shown.stdout  # no reStructuredText


def test_every_argument_has_help():
    import argparse

    from cbred_ray.cli import build_parser

    parser = build_parser()
    [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name, command in sub.choices.items():
        for action in command._actions:
            assert action.help, f"cbred {name}: {action.dest} has no help"


def test_a_run_names_its_selection_on_its_last_line_of_messages(tmp_path):
    result = cbred_process("run", REPO / "configs" / "nb201_tiny.yaml", "--out", tmp_path / "store",
                           "--set", "select.quick.sample_per_cluster=2", "--set", "resources.num_actors=1")
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    rows = len(pd.read_parquet(tmp_path / "store" / "selection"))
    assert last.startswith("[cbred] done: ") and f"{rows} of 15625" in last and str(tmp_path / "store" / "selection") in last
    manifest = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert manifest["config"]["select"]["quick"]["sample_per_cluster"] == 2
    assert manifest["sessions"][0]["overrides"] == ["select.quick.sample_per_cluster=2", "resources.num_actors=1"]
    assert manifest["resources"]["num_actors"] == 1


def _alias_bomb(levels: int) -> str:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\ncluster: {{k: *l{levels - 1}}}\n"


BAD_CONFIGS = {"latin-1": "name: café\n".encode("latin-1"), "utf-16": "name: x\n".encode("utf-16"),
               "binary": bytes(range(256)), "alias-bomb": _alias_bomb(9).encode(),
               "a-long-bad-value": yaml.safe_dump({"cluster": {"k": "x" * 100_000}}).encode()}


@pytest.mark.parametrize("content", BAD_CONFIGS.values(), ids=BAD_CONFIGS.keys())
def test_a_config_that_is_not_sane_utf8_yaml_exits_2_in_one_short_line_naming_it(tmp_path, content):
    path = tmp_path / "c.yaml"
    path.write_bytes(content)
    result = cbred("run", path, "--out", tmp_path / "store")
    assert_bad_input(result, "c.yaml")
    assert len(result.stderr.strip()) <= 300
    assert not (tmp_path / "store").exists()


def test_a_directory_given_as_the_config_says_so(tmp_path):
    assert_bad_input(cbred("run", tmp_path, "--out", tmp_path / "store"), "is a directory")
    assert not (tmp_path / "store").exists()


def test_a_store_that_cannot_be_written_exits_2_naming_it(tmp_path):
    if os.geteuid() == 0:  # permissions do not stop root: a folder no one may create
        out = Path("/sys/cbred-store")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o555)
        out = locked / "store"
    assert_bad_input(cbred("run", REPO / "configs" / "nb201_tiny.yaml", "--out", out), str(out))
    assert not out.exists()


@pytest.fixture()
def unfinished_store(tmp_path):
    """A store as another driver leaves it while its statistics run: graphs done, stats part written."""
    import pyarrow as pa

    from cbred_ray.config import RunConfig
    from cbred_ray.store import Store

    store = Store(tmp_path / "running")
    store.write_manifest({"kind": "run", "config": RunConfig().model_dump(mode="json"), "config_hash": "x",
                          "status": "running", "stages": {"graphs": {"status": "done"}, "stats": {"status": "running"}}})
    store.write_shard("graphs", 0, pa.table({"arch_index": [0, 1, 2]}))
    store.write_shard("stats", 0, pa.table({"arch_index": [0], "params": [1.0]}))
    return store.root


def test_readers_of_an_unfinished_store_exit_2_naming_the_stage_or_say_what_they_wrote(unfinished_store, tmp_path,
                                                                                      nb201_table):
    assert_bad_input(cbred("report", unfinished_store, "--benchmark", nb201_table), "'stats' stage is running")
    assert_bad_input(cbred("evaluate", unfinished_store), "'stats' stage is running")
    assert_bad_input(cbred("export", unfinished_store, "--out", tmp_path / "s.parquet"), "'stats' stage is running")
    assert_bad_input(cbred("export", unfinished_store, "--stage", "selection", "--out", tmp_path / "s.parquet"),
                     "'selection' stage is missing")
    assert not (tmp_path / "s.parquet").exists()
    graphs = cbred("export", unfinished_store, "--stage", "graphs", "--out", tmp_path / "g.parquet")
    assert graphs.returncode == 0 and json.loads(graphs.stdout)["partial"] is False
    partial = cbred_process("export", unfinished_store, "--partial", "--out", tmp_path / "s.parquet")
    assert partial.returncode == 0, partial.stderr
    assert json.loads(partial.stdout) == {"out": str(tmp_path / "s.parquet"), "stage": "stats", "rows": 1,
                                          "partial": True}
    assert "not finished" in partial.stderr
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 1


def test_a_full_disk_reads_the_same_one_line_from_a_worker_as_from_the_driver(ray_local):
    import errno

    import ray

    from cbred_ray.cli import failure_line

    def fill(path: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    try:
        fill("/store/stats/shard-00003.parquet")
    except OSError as err:
        on_driver = failure_line(err)
    with pytest.raises(Exception) as in_worker:  # noqa: PT011 - whatever Ray wraps it in
        ray.get(ray.remote(fill).remote("/store/stats/shard-00003.parquet"))
    assert failure_line(in_worker.value) == on_driver
    assert "no space left on device" in on_driver and "shard-00003" in on_driver and "\n" not in on_driver
