"""How many networks a search trains to find a top one, in the whole space and in a reduced one, reduction included.

    python benchmarks/search_saving.py --seeds 100 --budget 1000 --out benchmarks/results/search_saving.json \\
        --figures benchmarks/results/search_saving

On NAS-Bench-201 (CIFAR-10, CIFAR-100) and NAS-Bench-101 (CIFAR-10), each "trained network" is a lookup of its
accuracy in the benchmark's table (``cbred_ray.search.table_objective``). Random search, regularised evolution
(REA, population 20, tournament 5) and local search (``cbred_ray.search``) run for ``--budget`` networks with
``--seeds`` seeds each, in:

- the **whole space**;
- **C-BRED**: the reduced space of the shipped config (its committed selection: ``nb201_cifar100_selection.parquet``
  of ``configs/nb201_cifar100.yaml``, used for both NB201 datasets; ``nb101_cifar10_selection.parquet`` of
  ``configs/nb101_cifar10.yaml``);
- **Params-Quantiled**: the same number of architectures with the most parameters (free);
- **Quantiled** (NB201 only, where the statistics of the whole space are committed, ``nb201_stats.parquet``): the
  same number of architectures ranked best by the config's statistics (its rank ensemble), over the whole space;
- **REA + zero-cost warm-up** (Abdelfattah et al., ICLR 2021), in the whole space: REA's first population is the
  20 architectures that synflow ranks best in a seeded uniform pool (3,000 on NB201, from ``nb201_stats.parquet``;
  1,000 on NB101, drawn from the 2,816 uniformly sampled cells of ``nb101_cifar10_modern_sample`` scored with
  log-synflow, which orders as synflow does).

Reported per benchmark, algorithm and space: the networks trained until the first of the whole space's top 1 %
and top 0.1 % (median and interquartile range over the seeds; a search that never gets there counts as never,
so a median past the budget is reported as such), the best accuracy after 50, 100 and 300 networks, and what each
space keeps of the top (its best network, its top 0.1 %, its top 1 %).

**The cost of the reduction in the same unit.** The reduction's wall time and statistics time (its committed
result, ``nb201_quick.json`` / ``nb101_cifar10.json``, measured on this project's 2-core CPU) over the time to
train one network at the benchmark's schedule *on the same CPU*: the measured time of a training step (SGD with
momentum, batch 256, random images) of the benchmark's own network, median over three seeded architectures, times
the steps of the schedule (NB201: 200 epochs of 50,000 images; NB101: 108 epochs of its 40,000 training images).
Data loading and evaluation are left out, which makes the training time an underestimate and the reduction's
relative cost an overestimate. The warm-up's cost is its pool times the measured time of synflow per architecture.
Resumable: a benchmark already in ``--out`` is kept unless ``--force``.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from provenance import REPO, provenance

from cbred_ray.config import load_config
from cbred_ray.search import Evolution, ReducedSpace, make_search, run_search, table_objective, warm_start
from cbred_ray.select.reduction import ensemble_rank, top_by_rank
from cbred_ray.select.scoring import oriented_ranks
from cbred_ray.spaces import build_space

RESULTS = REPO / "benchmarks" / "results"
ALGORITHMS = ("random", "rea", "local")
REA = {"population": 20, "tournament": 5}
QUERIES = (50, 100, 300)
BATCH = 256
NB201_RUN = {"space": "nb201", "config": "configs/nb201_cifar100.yaml", "run": "nb201_quick.json",
             "selection": "nb201_cifar100_selection.parquet", "stats": "nb201_stats.parquet",
             "warm_pool": 3000, "warm_statistic": "synflow", "warm_stats": "nb201_stats.parquet",
             "epochs": 200, "train_images": 50_000, "stats_width": None}
BENCHMARKS = {
    "nb201_cifar10": {**NB201_RUN, "dataset": "cifar10", "num_classes": 10},
    "nb201_cifar100": {**NB201_RUN, "dataset": "cifar100", "num_classes": 100},
    "nb101_cifar10": {"space": "nb101", "config": "configs/nb101_cifar10.yaml", "run": "nb101_cifar10.json",
                      "selection": "nb101_cifar10_selection.parquet", "stats": None, "dataset": "cifar10",
                      "num_classes": 10, "warm_pool": 1000, "warm_statistic": "logsynflow",
                      "warm_stats": "nb101_cifar10_modern_sample", "epochs": 108, "train_images": 40_000,
                      "stats_width": 8},
}


def read_ids(path: Path, column: str) -> list[str]:
    return pd.read_parquet(path, columns=[column])[column].tolist()


def spaces_of(name: str, setup: dict, space) -> dict[str, ReducedSpace]:
    """The spaces searched: whole, C-BRED's, and the baselines of its size."""
    cbred = ReducedSpace.from_ids(space, read_ids(RESULTS / setup["selection"], space.id_column), label="C-BRED")
    size = len(cbred)
    everything = np.arange(space.size)
    params, _ = space.costs(everything, setup["num_classes"])
    spaces = {"whole": ReducedSpace(space),
              "C-BRED": cbred,
              "Params-Quantiled": ReducedSpace(space, members=top_by_rank(pd.Series(params, index=everything), size)
                                               .to_numpy(), label="Params-Quantiled")}
    if setup["stats"]:
        config = load_config(REPO / setup["config"])
        stats = pd.read_parquet(RESULTS / setup["stats"]).set_index("arch_index").sort_index()
        rank = ensemble_rank(oriented_ranks(stats, tuple(config.select.statistics)), config.select.combine)
        spaces["Quantiled"] = ReducedSpace(space, members=top_by_rank(rank, size).to_numpy(), label="Quantiled")
    return spaces


def kept(reduced: ReducedSpace, objective) -> dict:
    """What a space keeps of the whole space's top."""
    ids = set(reduced.ids())
    accuracy = objective.accuracy
    return {"size": len(ids), "share": len(ids) / reduced.space.size,
            "best_kept": bool(accuracy.idxmax() in ids),
            "top01_kept": sum(a in ids for a in objective.top_ids(0.001)), "top01_size": len(objective.top_ids(0.001)),
            "top1_kept": sum(a in ids for a in objective.top_ids(0.01)), "top1_size": len(objective.top_ids(0.01))}


def warm_statistic(setup: dict, space):
    """(the scored pool as a reduced space, identifiers -> the warm-up statistic)."""
    frame = pd.read_parquet(RESULTS / setup["warm_stats"], columns=[space.id_column, setup["warm_statistic"]])
    frame = frame.dropna()
    lookup = dict(zip(frame[space.id_column], frame[setup["warm_statistic"]]))
    pool = ReducedSpace.from_ids(space, frame[space.id_column], label="scored")
    return pool, Lookup(lookup)


def censored(values: list[int | None], budget: int) -> dict:
    """Median and quartiles of queries-to-target over the seeds, a search that never got there counting as never."""
    reached = np.array([math.inf if v is None else v for v in values], dtype=np.float64)
    q25, median, q75 = np.percentile(reached, [25, 50, 75], method="lower")
    show = lambda v: None if math.isinf(v) else int(v)  # noqa: E731 - None: past the budget
    return {"median": show(median), "q25": show(q25), "q75": show(q75), "reached": int(np.isfinite(reached).sum()),
            "seeds": len(values), "budget": budget}


def one_setting(job: tuple) -> tuple[str, dict]:
    """Every seed of one (algorithm, space) pair: what ``searches`` records of it."""
    algorithm, label, spaces, pool, statistic, objective, setup, seeds, budget = job
    began = time.perf_counter()
    top1, top01 = objective.top(0.01), objective.top(0.001)
    trajectories = []
    for seed in range(seeds):
        if label == "warm-up":
            initial = warm_start(pool, statistic, REA["population"], setup["warm_pool"], seed=seed)
            search = Evolution(spaces["whole"], seed, initial=initial, **REA)
        else:
            search = make_search(algorithm, spaces[label], seed, **(REA if algorithm == "rea" else {}))
        trajectories.append(run_search(search, objective, budget))
    best = np.full((seeds, budget), np.nan)
    for k, t in enumerate(trajectories):
        curve = t.best_so_far
        best[k, :len(curve)] = curve
        best[k, len(curve):] = curve[-1]  # a search that ran out of architectures keeps its best
    points = np.unique(np.geomspace(1, budget, 60).astype(int))
    return f"{algorithm} | {label}", {
        "algorithm": algorithm, "space": label, "trained": int(np.median([len(t) for t in trajectories])),
        "queries_to_top1": censored([t.queries_to(top1) for t in trajectories], budget),
        "queries_to_top01": censored([t.queries_to(top01) for t in trajectories], budget),
        "best_after": {str(q): {"mean": float(best[:, q - 1].mean()), "std": float(best[:, q - 1].std())}
                       for q in QUERIES if q <= budget},
        "curve": {"queries": points.tolist(), "mean_best": best[:, points - 1].mean(axis=0).round(4).tolist()},
        "seconds": round(time.perf_counter() - began, 1)}


def searches(name: str, setup: dict, seeds: int, budget: int, workers: int, log, only: set[str] | None = None) -> dict:
    """Every (algorithm, space) setting of one benchmark; ``only``: the settings of these algorithms alone."""
    space = build_space(setup["space"])
    objective = table_objective(space, setup["dataset"])
    spaces = spaces_of(name, setup, space)
    pool, lookup = warm_statistic(setup, space)
    runs = [(algorithm, label) for algorithm in ALGORITHMS for label in spaces] + [("rea", "warm-up")]
    runs = [(algorithm, label) for algorithm, label in runs if only is None or algorithm in only]
    jobs = [(algorithm, label, spaces, pool, lookup, objective, setup, seeds, budget) for algorithm, label in runs]
    out = {}
    with ProcessPoolExecutor(workers) as executor:
        for key, measured in executor.map(one_setting, jobs):
            out[key] = measured
            log(f"{name} {key}: top-1 % median {measured['queries_to_top1']['median']}, "
                f"top-0.1 % median {measured['queries_to_top01']['median']} ({measured['seconds']} s)")
    return {"space": setup["space"], "dataset": setup["dataset"], "top1_threshold": objective.top(0.01),
            "top01_threshold": objective.top(0.001), "space_size": space.size,
            "spaces": {label: kept(reduced, objective) for label, reduced in spaces.items()}, "runs": out}


def _order(key: str) -> tuple[int, int]:
    """Settings in the order ``searches`` runs them."""
    algorithm, label = key.split(" | ")
    labels = ["whole", "C-BRED", "Params-Quantiled", "Quantiled", "warm-up"]
    return ALGORITHMS.index(algorithm), labels.index(label)


class Lookup:
    """The warm-up statistic of identifiers (picklable, for the worker processes)."""

    def __init__(self, values: dict[str, float]) -> None:
        self.values = values

    def __call__(self, archs: list[str]) -> list[float]:
        return [self.values[a] for a in archs]


# -- the cost of a trained network and of the statistics, on this machine ------------------------------
def training_seconds(setup: dict, space, steps: int = 2, archs: int = 3) -> dict:
    """One network trained at the benchmark's schedule on this CPU, estimated from timed training steps."""
    import torch

    times = []
    for index in space.sample(archs, seed=0).tolist():
        torch.manual_seed(0)
        net = space.cost_network(index, setup["num_classes"])
        net.train()
        optimiser = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
        images = torch.randn(BATCH, 3, 32, 32)
        labels = torch.randint(0, setup["num_classes"], (BATCH,))
        took = []
        for step in range(steps + 1):
            began = time.perf_counter()
            optimiser.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(images), labels)
            loss.backward()
            optimiser.step()
            if step:  # the first step warms up
                took.append(time.perf_counter() - began)
        times.append(float(np.mean(took)))
    step = float(np.median(times))
    per_epoch = math.ceil(setup["train_images"] / BATCH)
    return {"step_seconds": step, "step_seconds_per_arch": times, "batch": BATCH, "steps_per_epoch": per_epoch,
            "epochs": setup["epochs"], "network_seconds": step * per_epoch * setup["epochs"],
            "torch_threads": torch.get_num_threads()}


def statistic_seconds(setup: dict, space, archs: int = 10) -> float:
    """Seconds per architecture of the warm-up's statistic (synflow) on this CPU, median of ``archs``."""
    import torch

    from cbred_ray.stats.engine import compute_stats

    times = []
    for index in space.canonical_indices(space.sample(archs, seed=1)).tolist():
        networks = space.networks(index, setup["stats_width"])
        batch = torch.randn(8, 3, 32, 32)
        began = time.perf_counter()
        compute_stats(networks, ["synflow"], batch, seed=0, num_classes=setup["num_classes"])
        times.append(time.perf_counter() - began)
    return float(np.median(times))


def costs(setup: dict, space) -> dict:
    run = json.loads((RESULTS / setup["run"]).read_text())
    train = training_seconds(setup, space)
    synflow = statistic_seconds(setup, space)
    network = train["network_seconds"]
    return {"training": train, "reduction_run": setup["run"], "reduction_wall_seconds": run["wall_seconds"],
            "reduction_stats_seconds": run["stage_seconds"]["stats"],
            "reduction_networks": run["wall_seconds"] / network,
            "reduction_stats_networks": run["stage_seconds"]["stats"] / network,
            "warm_up_statistic_seconds_per_arch": synflow, "warm_up_pool": setup["warm_pool"],
            "warm_up_networks": setup["warm_pool"] * synflow / network,
            "assumption": "one network's training = measured training-step time of the benchmark's network (batch 256, "
                          "SGD with momentum) on this CPU x steps per epoch x the benchmark's epochs; data loading and "
                          "evaluation left out (an underestimate, which overstates the reduction's relative cost)"}


# -- figures ----------------------------------------------------------------------------------------------
def figure(name: str, result: dict, out: Path) -> Path:
    """The anytime curves of each algorithm (mean best accuracy over the seeds), one panel per algorithm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ALGORITHMS), figsize=(15, 4.2), sharey=True)
    styles = {"whole": ("black", "-"), "C-BRED": ("tab:red", "-"), "Params-Quantiled": ("tab:blue", "--"),
              "Quantiled": ("tab:green", "--"), "warm-up": ("tab:purple", ":")}
    for axis, algorithm in zip(axes, ALGORITHMS):
        for run in result["runs"].values():
            if run["algorithm"] != algorithm:
                continue
            colour, line = styles[run["space"]]
            label = "whole space + zero-cost warm-up" if run["space"] == "warm-up" else run["space"]
            axis.plot(run["curve"]["queries"], run["curve"]["mean_best"], color=colour, linestyle=line, label=label)
        for threshold, text in ((result["top1_threshold"], "top 1 %"), (result["top01_threshold"], "top 0.1 %")):
            axis.axhline(threshold, color="grey", linewidth=0.6)
            axis.text(1.05, threshold, text, fontsize=7, va="bottom", color="grey")
        axis.set_xscale("log")
        axis.set_title(f"{algorithm} ({name})")
        axis.set_xlabel("networks trained")
        axis.legend(fontsize=7, loc="lower right")
        floor = result["top1_threshold"] - 4
        highest = max(max(run["curve"]["mean_best"]) for run in result["runs"].values())
        axis.set_ylim(floor, max(result["top01_threshold"], highest) + 0.5)
    axes[0].set_ylabel(f"mean best {result['dataset']} accuracy (%) over {result['seeds']} seeds")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--budget", type=int, default=1000)
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--figures", required=True, help="folder of the anytime-curve figures")
    parser.add_argument("--workers", type=int, default=2, help="processes running the searches")
    parser.add_argument("--force", action="store_true", help="measure again the benchmarks already in --out")
    parser.add_argument("--redo", default=None, help="comma-separated algorithms whose settings to measure again "
                        "(after a change of the algorithm), keeping the others")
    parser.add_argument("--skip-costs", action="store_true", help="leave the timing of training and statistics for a "
                        "later run of the same command (on a machine doing nothing else)")
    args = parser.parse_args()
    out = Path(args.out)
    done = json.loads(out.read_text()) if out.is_file() else {}
    results = done.get("benchmarks", {}) if not args.force else {}
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    for name in args.benchmarks.split(","):
        setup = BENCHMARKS[name]
        result = results.get(name)
        if result is not None and args.redo:  # measure again the settings of these algorithms, keep the rest
            began = time.perf_counter()
            again = searches(name, setup, args.seeds, args.budget, args.workers, log, set(args.redo.split(",")))
            result["runs"].update(again["runs"])
            result["runs"] = {key: result["runs"][key] for key in sorted(result["runs"], key=_order)}
            result["seconds_redone"] = round(time.perf_counter() - began, 1)
        elif result is None or result.get("seeds") != args.seeds or result.get("budget") != args.budget:
            began = time.perf_counter()
            result = searches(name, setup, args.seeds, args.budget, args.workers, log)
            result.update(seeds=args.seeds, budget=args.budget, seconds=round(time.perf_counter() - began, 1))
        result["figure"] = str(figure(name, result, Path(args.figures)).resolve().relative_to(REPO))
        if "cost" not in result and not args.skip_costs:  # timed on a quiet machine, apart from the searches
            result["cost"] = costs(setup, build_space(setup["space"]))
        results[name] = result
        record = {"command": "python benchmarks/search_saving.py " + " ".join(sys.argv[1:]), **provenance(),
                  "settings": {"rea": REA, "queries": QUERIES, "algorithms": ALGORITHMS, "setups": BENCHMARKS},
                  "benchmarks": results}
        out.write_text(json.dumps(record, indent=1) + "\n")
        log(f"{name}: {'cost to measure' if 'cost' not in result else 'done'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
