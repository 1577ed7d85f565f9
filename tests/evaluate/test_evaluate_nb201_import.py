"""Importing a NAS-Bench-201 file written in the official API's own format."""
from __future__ import annotations

import pickle
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from nas_201_api import NASBench201API
from nb201_fixture import ARCHS, build_benchmark, write_benchmark

from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import load_benchmark
from cbred_ray.evaluate.nb201_import import import_nb201

TEST_SETS = {"cifar10": ("cifar10", "ori-test"), "cifar100": ("cifar100", "x-test"),
             "imagenet16_120": ("ImageNet16-120", "x-test")}


def test_imported_values_are_the_final_test_accuracies_averaged_over_seeds(tmp_path: Path) -> None:
    fixture = write_benchmark(tmp_path / "bench.pth")
    out = tmp_path / "out" / "nb201.parquet"
    assert import_nb201(tmp_path / "bench.pth", out, progress=False) == 4
    table = pq.read_table(out)
    assert table.schema == pa.schema(
        [("index", pa.int32()), ("arch_str", pa.string()), ("cifar10_test_acc", pa.float64()),
         ("cifar100_test_acc", pa.float64()), ("imagenet16_120_test_acc", pa.float64())]
    )
    rows = table.to_pylist()
    assert [row["index"] for row in rows] == [0, 1, 2, 4]
    for row in rows:
        assert row["arch_str"] == ARCHS[row["index"]]
        for name, (dataset, test_set) in TEST_SETS.items():
            assert row[f"{name}_test_acc"] == pytest.approx(fixture.mean_final(row["index"], dataset, test_set))
    assert sorted(p.name for p in out.parent.iterdir()) == ["nb201.parquet"]  # no temporary left


def test_imported_values_equal_the_official_get_more_info(tmp_path: Path) -> None:
    fixture = write_benchmark(tmp_path / "bench.pth")
    import_nb201(tmp_path / "bench.pth", tmp_path / "nb201.parquet", progress=False)
    api = NASBench201API(fixture.benchmark, verbose=False)
    for row in pq.read_table(tmp_path / "nb201.parquet").to_pylist():
        for name, (dataset, _) in TEST_SETS.items():
            info = api.get_more_info(row["index"], dataset, hp="200", is_random=False)
            assert row[f"{name}_test_acc"] == pytest.approx(info["test-accuracy"], rel=1e-12)


def test_imported_table_is_a_valid_benchmark(tmp_path: Path) -> None:
    write_benchmark(tmp_path / "bench.pth")
    import_nb201(tmp_path / "bench.pth", tmp_path / "nb201.parquet", progress=False)
    assert len(load_benchmark(tmp_path / "nb201.parquet")) == 4


def test_imagenet_column_only_when_the_file_has_it(tmp_path: Path) -> None:
    write_benchmark(tmp_path / "bench.pth", datasets=("cifar10-valid", "cifar10", "cifar100"))
    import_nb201(tmp_path / "bench.pth", tmp_path / "nb201.parquet", progress=False)
    assert pq.read_schema(tmp_path / "nb201.parquet").names == [
        "index", "arch_str", "cifar10_test_acc", "cifar100_test_acc"
    ]


def test_default_torch_load_refuses_the_benchmark_format(tmp_path: Path) -> None:
    """Why the importer loads with weights_only=False: numpy scalars in the file."""
    write_benchmark(tmp_path / "bench.pth")
    with pytest.raises(pickle.UnpicklingError, match="numpy"):
        torch.load(tmp_path / "bench.pth", map_location="cpu")
    with pytest.raises(pickle.UnpicklingError):
        NASBench201API(str(tmp_path / "bench.pth"), verbose=False)


def test_missing_benchmark_file(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="missing.pth.*does not exist"):
        import_nb201(tmp_path / "missing.pth", tmp_path / "out.parquet", progress=False)


def test_unreadable_benchmark_file(tmp_path: Path) -> None:
    (tmp_path / "bench.pth").write_bytes(b"not a torch file")
    with pytest.raises(BadInput, match="bench.pth.*not readable") as err:
        import_nb201(tmp_path / "bench.pth", tmp_path / "out.parquet", progress=False)
    assert "\n" not in str(err.value)


def test_file_without_benchmark_keys(tmp_path: Path) -> None:
    torch.save({"meta_archs": list(ARCHS)}, tmp_path / "bench.pth")
    with pytest.raises(BadInput, match="lacks the benchmark keys"):
        import_nb201(tmp_path / "bench.pth", tmp_path / "out.parquet", progress=False)


def test_architecture_without_cifar100_results(tmp_path: Path) -> None:
    write_benchmark(tmp_path / "bench.pth", datasets=("cifar10",))
    with pytest.raises(BadInput, match="architecture 0 has no 200-epoch results on 'cifar100'"):
        import_nb201(tmp_path / "bench.pth", tmp_path / "out.parquet", progress=False)


def test_failed_import_leaves_an_existing_table_untouched(tmp_path: Path) -> None:
    out = tmp_path / "nb201.parquet"
    out.write_bytes(b"previous")
    benchmark = build_benchmark().benchmark
    del benchmark["arch2infos"][2]["full"]["all_results"][("cifar100", 777)]["eval_acc1es"]
    torch.save(benchmark, tmp_path / "bench.pth")
    with pytest.raises(BadInput, match="malformed results for architecture 2"):
        import_nb201(tmp_path / "bench.pth", out, progress=False)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.pth", "nb201.parquet"]


def test_failed_write_leaves_no_partial_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "nb201.parquet"
    out.write_bytes(b"previous")
    write_benchmark(tmp_path / "bench.pth")

    def write_then_fail(table: pa.Table, where: Path) -> None:
        Path(where).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(pq, "write_table", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        import_nb201(tmp_path / "bench.pth", out, progress=False)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.pth", "nb201.parquet"]


def test_import_nb201_command(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    write_benchmark(tmp_path / "bench.pth")
    out = tmp_path / "table.parquet"
    done = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "import-nb201", str(tmp_path / "bench.pth"),
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"out": str(out), "rows": 4}
    assert list(load_benchmark(out)["arch_str"]) == [ARCHS[i] for i in (0, 1, 2, 4)]
    missing = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "import-nb201", str(tmp_path / "nope.pth"),
                              "--out", str(tmp_path / "t2.parquet")], capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "nope.pth" in missing.stderr
    assert not (tmp_path / "t2.parquet").exists()
