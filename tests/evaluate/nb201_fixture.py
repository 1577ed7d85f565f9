"""A tiny NAS-Bench-201 benchmark file in the official API's own format.

The official file is a ``torch.save``-d dict::

    {"meta_archs": [arch_str by official index],
     "evaluated_indexes": {indexes with results},
     "arch2infos": {index: {"less": ArchResults.state_dict() (12 epochs, hp='12'),
                            "full": ArchResults.state_dict() (200 epochs, hp='200')}}}

Each ArchResults holds one ResultsCount per (dataset, seed); a ResultsCount keeps
per-epoch accuracies under ``'<set>@<epoch>'`` keys. The sets are ``x-valid`` and
``ori-test`` for ``cifar10-valid``, ``ori-test`` for ``cifar10``, and ``x-valid``,
``x-test``, ``ori-test`` for ``cifar100`` and ``ImageNet16-120``. Parameter counts are
numpy scalars, as the benchmark's own ``count_parameters_in_MB`` (``np.sum``) makes
them, which ``torch.load(weights_only=True)`` refuses.

Every set, seed, schedule and epoch gets a distinct accuracy, so reading the wrong
one shows; only the last epoch of the 200-epoch schedule holds the final value.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from nas_201_api import ArchResults, ResultsCount

ARCHS: tuple[str, ...] = (
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|skip_connect~0|+|nor_conv_1x1~0|none~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|none~1|avg_pool_3x3~2|",
)
SEEDS: tuple[int, ...] = (777, 888, 999)
DATASET_SETS: dict[str, tuple[str, ...]] = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}
EPOCHS = {"less": 12, "full": 200}


@dataclass
class Fixture:
    """The benchmark dict and the final accuracies that went into it."""

    benchmark: dict
    # (index, schedule, dataset, set) -> final accuracy of each seed
    finals: dict[tuple[int, str, str, str], list[float]] = field(default_factory=dict)

    def mean_final(self, index: int, dataset: str, eval_set: str, schedule: str = "full") -> float:
        return float(np.mean(self.finals[(index, schedule, dataset, eval_set)]))


def final_accuracy(index: int, schedule: str, dataset: str, eval_set: str, seed: int) -> float:
    """A distinct accuracy (percent) for each combination."""
    return (
        30.0
        + 9.0 * index
        + 0.37 * list(DATASET_SETS).index(dataset)
        + 0.11 * ("x-valid", "x-test", "ori-test").index(eval_set)
        + 1.7 * SEEDS.index(seed)
        + (5.0 if schedule == "full" else 0.0)
    )


def _results_count(index: int, schedule: str, dataset: str, seed: int, finals: dict) -> ResultsCount:
    epochs = EPOCHS[schedule]
    ramp = [0.5 + 0.5 * e / (epochs - 1) for e in range(epochs)]  # last epoch -> 1.0
    config = {"name": "infer.tiny", "C": 16, "N": 5, "arch_str": ARCHS[index], "class_num": 10}
    result = ResultsCount(
        name=dataset,
        state_dict=None,
        train_accs={e: 99.0 * r for e, r in enumerate(ramp)},
        train_losses={e: 1.0 - 0.5 * r for e, r in enumerate(ramp)},
        params=np.float64(0.1 + 0.01 * index),
        flop=15.0 + index,
        arch_config=config,
        seed=seed,
        epochs=epochs,
        latency=[0.01],
    )
    accs, losses, times = {}, {}, {}
    for eval_set in DATASET_SETS[dataset]:
        final = final_accuracy(index, schedule, dataset, eval_set, seed)
        finals.setdefault((index, schedule, dataset, eval_set), []).append(final)
        for e, r in enumerate(ramp):
            accs[f"{eval_set}@{e}"] = final * r
            losses[f"{eval_set}@{e}"] = 2.0 - r
            times[f"{eval_set}@{e}"] = 0.5
    result.update_eval(accs, losses, times)
    return result


def _arch_results(index: int, schedule: str, datasets: tuple[str, ...], finals: dict) -> dict:
    results = ArchResults(index, ARCHS[index])
    seeds = SEEDS[: 1 + index % len(SEEDS)]  # 1, 2 or 3 trials, as in the benchmark
    for dataset in datasets:
        for seed in seeds:
            results.update(dataset, seed, _results_count(index, schedule, dataset, seed, finals))
    return results.state_dict()


def build_benchmark(
    evaluated: tuple[int, ...] = (0, 1, 2, 4), datasets: tuple[str, ...] = tuple(DATASET_SETS)
) -> Fixture:
    """The benchmark dict for :data:`ARCHS`, with results for the ``evaluated`` indexes."""
    fixture = Fixture(benchmark={})
    arch2infos = {
        index: {schedule: _arch_results(index, schedule, datasets, fixture.finals) for schedule in EPOCHS}
        for index in evaluated
    }
    fixture.benchmark = {
        "meta_archs": list(ARCHS),
        "arch2infos": arch2infos,
        "evaluated_indexes": set(evaluated),
    }
    return fixture


def write_benchmark(path: Path, **kwargs) -> Fixture:
    """Build the benchmark (see :func:`build_benchmark`) and ``torch.save`` it to ``path``."""
    fixture = build_benchmark(**kwargs)
    torch.save(fixture.benchmark, path)
    return fixture
