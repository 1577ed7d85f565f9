"""Import the official NAS-Bench-201 benchmark file into a Parquet benchmark table.

The official file (``NAS-Bench-201-v1_0-e61699.pth``, ``NAS-Bench-201-v1_1-096897.pth``)
is a ``torch.save``-d dict with ``meta_archs`` (the arch strings, by official
index), ``evaluated_indexes`` and ``arch2infos``: index -> ``{"less": ..., "full": ...}``,
the state dicts of :class:`nas_201_api.ArchResults` for the 12-epoch (``hp='12'``)
and the 200-epoch (``hp='200'``) schedule. Each ArchResults holds one
:class:`nas_201_api.ResultsCount` per (dataset, seed).

Accuracies are read with the official classes exactly as
``NASBench201API.get_more_info(index, dataset, hp='200', is_random=False)['test-accuracy']``
reads them: ``ArchResults.get_metrics(dataset, set, is_random=False)`` at the
last epoch, averaged over seeds, where the set is ``'ori-test'`` (the official
10k test set) for ``cifar10`` and ``'x-test'`` (the benchmark's test split) for
``cifar100`` and ``ImageNet16-120``. ``cifar10`` here is the model trained on
CIFAR-10 train+valid, not ``cifar10-valid``.

Loading: torch >= 2.6 makes ``torch.load`` default to ``weights_only=True``, whose
unpickler only admits tensors and plain containers. ``NASBench201API(path)`` calls
``torch.load(path, map_location='cpu')`` with that default and so fails on any
file holding another global, numpy scalars included (``numpy._core.multiarray.scalar``
is rejected). The benchmark file is therefore loaded here with
``weights_only=False`` — a full unpickle, so only use benchmark files from a
trusted source. The loaded dict is not handed to ``NASBench201API(dict)``,
because that constructor deep-copies it (and builds both schedules for every
architecture), doubling the peak memory of a multi-gigabyte file; each
``full`` entry is instead wrapped by ``ArchResults.create_from_state_dict``,
which does not copy.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import torch
from nas_201_api import ArchResults
from tqdm import tqdm

from cbred_ray.errors import BadInput
from cbred_ray.spaces.cell import nb201
from cbred_ray.store.atomic import write_table_atomic

FULL_SCHEDULE = "full"  # the state dict NASBench201API files under hp='200'
# column prefix -> (dataset name in the benchmark, evaluation set get_more_info reports as test)
REQUIRED_DATASETS: dict[str, tuple[str, str]] = {
    "cifar10": ("cifar10", "ori-test"),
    "cifar100": ("cifar100", "x-test"),
}
OPTIONAL_DATASETS: dict[str, tuple[str, str]] = {
    "imagenet16_120": ("ImageNet16-120", "x-test"),
}
_FILE_KEYS = ("meta_archs", "arch2infos", "evaluated_indexes")


def import_nb201(benchmark_path: str | Path, out_path: str | Path, progress: bool = True) -> int:
    """Write the benchmark table of an official NAS-Bench-201 file; return the rows written.

    Columns: ``index`` (int32, official index), ``arch_str``, ``cifar10_test_acc``,
    ``cifar100_test_acc`` and, when every architecture has it,
    ``imagenet16_120_test_acc`` (float64, percent, 200-epoch schedule, mean over
    seeds). One row per evaluated architecture, by index. The table is written to
    a temporary file beside ``out_path`` and renamed over it, so ``out_path`` is
    never left half-written. BadInput when the file is missing, unreadable, not in
    the benchmark's format, or lacks a CIFAR accuracy for some architecture.
    """
    benchmark = _load_benchmark_file(Path(benchmark_path))
    table = _accuracy_table(benchmark, progress)
    write_table_atomic(out_path, table)
    return table.num_rows


def _load_benchmark_file(path: Path) -> dict:
    if not path.is_file():
        raise BadInput(f"NAS-Bench-201 file {str(path)!r} does not exist or is not a file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch.load raises many types (pickle, zip, EOF, runtime)
        raise BadInput(f"NAS-Bench-201 file {str(path)!r} is not readable: {type(err).__name__}") from err
    if not isinstance(data, dict) or any(key not in data for key in _FILE_KEYS):
        raise BadInput(f"NAS-Bench-201 file {str(path)!r} lacks the benchmark keys {list(_FILE_KEYS)}")
    return data


def _accuracy_table(benchmark: dict, progress: bool) -> pa.Table:
    meta_archs, arch2infos = benchmark["meta_archs"], benchmark["arch2infos"]
    indexes = sorted(int(i) for i in benchmark["evaluated_indexes"])
    rows: list[dict[str, float]] = []
    for index in tqdm(indexes, desc="NAS-Bench-201", unit="arch", disable=not progress):
        if not 0 <= index < len(meta_archs) or index not in arch2infos:
            raise BadInput(f"NAS-Bench-201 file: evaluated index {index} has no architecture or results")
        nb201.parse(meta_archs[index])
        rows.append(_accuracies(arch2infos[index], index))
    optional = [name for name in OPTIONAL_DATASETS if rows and all(name in row for row in rows)]
    columns = {
        "index": pa.array(indexes, type=pa.int32()),
        "arch_str": pa.array([meta_archs[i] for i in indexes], type=pa.string()),
    }
    for name in [*REQUIRED_DATASETS, *optional]:
        columns[f"{name}_test_acc"] = pa.array([row[name] for row in rows], type=pa.float64())
    return pa.table(columns)


def _accuracies(infos: dict, index: int) -> dict[str, float]:
    """Test accuracy per dataset (percent, last epoch, mean over seeds) of one architecture."""
    try:
        results = ArchResults.create_from_state_dict(infos[FULL_SCHEDULE])
        available = set(results.get_dataset_names())
        accuracies = {
            name: float(results.get_metrics(dataset, test_set, iepoch=None, is_random=False)["accuracy"])
            for name, (dataset, test_set) in {**REQUIRED_DATASETS, **OPTIONAL_DATASETS}.items()
            if dataset in available
        }
    except (KeyError, TypeError, ValueError, AssertionError, AttributeError) as err:
        raise BadInput(f"NAS-Bench-201 file: malformed results for architecture {index}: {err!r}") from err
    missing = [REQUIRED_DATASETS[name][0] for name in REQUIRED_DATASETS if name not in accuracies]
    if missing:
        raise BadInput(f"NAS-Bench-201 file: architecture {index} has no 200-epoch results on {missing[0]!r}")
    return accuracies

