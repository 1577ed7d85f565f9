"""``cbred report STORE``: the paper's comparison and figures for a finished store, as Markdown.

The store supplies the graph features, the statistics and the run's config; the benchmark
table is read only to measure subsets that were chosen without it (see
:mod:`cbred_ray.report.comparison`).
"""
from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from cbred_ray.catalog import CATALOGUE
from cbred_ray.config import RunConfig
from cbred_ray.errors import BadInput
from cbred_ray.evaluate.benchmark import accuracy_columns, builtin_table, load_benchmark
from cbred_ray.evaluate.faithfulness import default_thresholds, tau_by_min_accuracy
from cbred_ray.log import say
from cbred_ray.report import figures
from cbred_ray.report.budgeted import (
    AT_BUDGET_SHARE,
    AT_CLUSTER_SIZE,
    BudgetRun,
    choose_on_budget,
    describe_on_budget,
    measure_on_budget,
)
from cbred_ray.report.budgeted import ORACLE as BUDGET_ORACLE
from cbred_ray.report.comparison import (
    ORACLE,
    SET_MARK,
    Choice,
    Space,
    budget_label,
    choose,
    distinct_points,
    measure,
    spread_of_choice,
    summarise,
)
from cbred_ray.select.caveats import kept_cluster
from cbred_ray.select.constraints import arch_costs, budget_mask, stored_costs
from cbred_ray.select.methods import METHODS
from cbred_ray.select.scoring import COMBINE
from cbred_ray.spaces.base import Space as SearchSpace
from cbred_ray.store import RUN_STAGES, Store

MEASURES = (("size", "size", "{:.0f}"), ("mean", "mean acc. (%)", "{:.2f}"), ("top1_recall", "top-1 % recall", "{:.3f}"),
            ("best_kept", "best net kept", "{:.2f}"), ("top01_kept", "top-0.1 % kept", "{:.1f}"),
            ("best_of_10", "E[best of 10] (%)", "{:.2f}"), ("best_of_100", "E[best of 100] (%)", "{:.2f}"),
            ("first_ranked", "first-ranked net (%)", "{:.2f}"))
WHAT_IS_CUT = ("A search confined to a subset can never find what it cuts: `best net kept` is 1 when the subset "
               "holds the space's best network (its share of the seeds), `top-0.1 % kept` how many of the space's "
               "best 0.1 % it holds.")
BEST_OF = {"best_of_10": 10, "best_of_100": 100}
"""E[best of N] compares subsets of one size only: a table shows it for rows that share their size with
another row and hold at least N networks (:func:`_table`)."""


def load_space(store: Store, features: str | None = None, space: SearchSpace | None = None) -> tuple[Space, RunConfig]:
    """The store's architectures, statistics and config; refuses a store without statistics for every
    architecture.

    ``features``: the graph features to compute from the space (default: those the run's clustering used;
    the graphs stage stores only that one); ``space``: the space object (default: the config's)."""
    config = _run_config(store)
    column = features or config.cluster.features
    graphs = store.read("graphs", columns=["arch_index", "canonical_index"]).to_pandas()
    graphs = graphs.set_index("arch_index").sort_index()
    space_of_run = space or config.space.space()
    graphs["id"] = space_of_run.format_ids(graphs.index.to_numpy())
    distinct, inverse = np.unique(graphs["canonical_index"].to_numpy(), return_inverse=True)
    graphs[column] = list(space_of_run.features(distinct, column)[inverse.ravel()])
    names = [n for n in CATALOGUE if n in config.stats.names]
    stats = store.read("stats", columns=["arch_index", *names]).to_pandas().set_index("arch_index").sort_index()
    if len(stats) < len(graphs):
        raise BadInput(f"store {str(store.root)!r} has statistics for {len(stats)} of {len(graphs)} architectures: "
                       "the comparison needs every one (run without quick mode or halving and without a budget "
                       "applied before)")
    features = pd.DataFrame(np.stack(graphs[column].to_numpy()), index=graphs.index)
    space = Space(graphs["id"], features, graphs["canonical_index"], stats.loc[graphs.index],
                  arch_costs(space_of_run, graphs.index.to_numpy(), config.stats.num_classes), space_of_run)
    return space, config


def stored_features(store: Store, feature: str) -> pd.DataFrame:
    """The clustering feature the graphs stage stored for every architecture (one row each, by ``arch_index``):
    read, not computed again (for a traced space that would build every network once more)."""
    index, matrix = store.read_matrix("graphs", feature)
    return pd.DataFrame(matrix, index=pd.Index(index, name="arch_index"))


def _run_config(store: Store) -> RunConfig:
    manifest = store.read_manifest()
    if manifest.get("kind") != "run":
        raise BadInput(f"store {str(store.root)!r} holds a {manifest.get('kind')!r} run, not a reduction (cbred run)")
    store.read_finished(RUN_STAGES, "run it to the end before reporting on it")
    return RunConfig.model_validate(manifest["config"])


def write_report(store_root: str | Path, benchmark: str | Path | None = None, out: str | Path | None = None,
                 seeds: int = 5, budgets: Sequence[float | None] | None = None, progress: bool = True,
                 sample_stats: str | Path | None = None, also: Sequence[str] = (), space: SearchSpace | None = None
                 ) -> Path:
    """Write ``report.md``, ``results.json`` and the figures into ``out`` (default STORE/report).

    ``benchmark``: the table to measure against (default: the one built in for the store's space). A store
    whose statistics cover only part of its space (quick mode, successive halving) gets the comparison at
    its statistics budget (:mod:`cbred_ray.report.budgeted`; ``sample_stats``: statistics of a uniform
    sample of as many architectures, for the Quantiled baseline at that budget). ``also``: other statistic
    sets of the store to run Quantiled and C-BRED (Q + C) on too, each ``LABEL=NAME,NAME[:COMBINE]``
    (:func:`parse_statistic_set`). ``space``: the space object, when the store's space class cannot be
    imported here (one defined in a notebook)."""
    store = Store(store_root)
    config = _run_config(store)
    sets = dict(parse_statistic_set(spec, config.stats.names) for spec in also)
    space_of_run = space or config.space.space()
    table_path = benchmark or (builtin_table(space_of_run) if space_of_run.benchmark_table else None)
    table = load_benchmark(table_path, space_of_run) if table_path else None  # None: nobody trained the space
    command = (f"cbred report STORE --seeds {seeds}" + (f" --benchmark {benchmark}" if benchmark else "")
               + (" --sample-stats SAMPLE" if sample_stats else "") + "".join(f" --also {spec}" for spec in also))
    if store.count_rows("stats") < store.count_rows("clusters"):
        return _budget_report(store, config, space_of_run, table, Path(out) if out is not None else store.root / "report",
                              seeds, sample_stats, sets, command)
    if table is None:
        raise BadInput(f"space {space_of_run.name!r} ships no benchmark table, and the full comparison measures "
                       "accuracies: give --benchmark FILE")
    space, config = load_space(store, space=space_of_run)
    missing = set(space.ids) - set(table[space_of_run.id_column])
    if missing:
        raise BadInput(f"benchmark table {str(benchmark)!r} lacks {len(missing)} architectures of the store "
                       f"(first: {sorted(missing)[0]!r})")
    budgets = (None, *space_of_run.report_budgets) if budgets is None else budgets
    out = Path(out) if out is not None else store.root / "report"
    out.mkdir(parents=True, exist_ok=True)

    choices: list[Choice] = []
    for budget in budgets:  # choosing first, for every budget and seed; no accuracy read
        for seed in range(config.seed, config.seed + seeds):
            choices.append(choose(space, config, budget, seed, sets))
            say(progress, f"report: chose subsets for budget {budget_label(budget)}, seed {seed}")
    rows = pd.DataFrame([row for choice in choices for row in measure(choice, space, table)])
    summary = summarise(rows)
    choice_table = spread_of_choice(choices)

    datasets = list(accuracy_columns(table))
    main = "cifar100" if "cifar100" in datasets else datasets[0]
    accuracy = table.set_index(space_of_run.id_column)[accuracy_columns(table)[main]]
    first = choices[0]
    figure_paths = _figures(out, summary, main, first, space, accuracy)
    results = {
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "config": portable(config.model_dump(mode="json")), "seeds": list(range(config.seed, config.seed + seeds)),
        "summary": summary.to_dict(orient="records"), "rows": rows.to_dict(orient="records"),
        "choices": choice_table.to_dict(orient="records"),
        "search": [{"budget": budget_label(c.budget), "seed": c.seed, "table": c.clustering.search} for c in choices],
    }
    (out / "results.json").write_text(json.dumps(results, indent=1, default=_json_default))
    (out / "report.md").write_text(_markdown(summary, choice_table, datasets, main, config, seeds, figure_paths, out))
    return out / "report.md"


def parse_statistic_set(spec: str, stored: Sequence[str]) -> tuple[str, tuple[tuple[str, ...], str]]:
    """``LABEL=NAME,NAME[:COMBINE]`` as (label, (names, combine)); BadInput naming what is wrong (a name the
    store did not compute, an unknown combination)."""
    label, sep, rest = spec.partition("=")
    names, _, combine = rest.partition(":")
    combine = combine or "mean"
    if not sep or not label or not names:
        raise BadInput(f"--also {spec!r} must be LABEL=NAME,NAME[:COMBINE]")
    if combine not in COMBINE:
        raise BadInput(f"--also {spec!r}: unknown combination {combine!r}; known: {', '.join(COMBINE)}")
    chosen = tuple(names.split(","))
    missing = [name for name in chosen if name not in stored]
    if missing:
        raise BadInput(f"--also {spec!r}: the store did not compute {missing[0]!r} (it has: {', '.join(stored)})")
    return label, (chosen, combine)


def _budget_report(store: Store, config: RunConfig, space: SearchSpace, table: pd.DataFrame | None, out: Path,
                   seeds: int, sample_stats: str | Path | None, sets: dict[str, tuple[tuple[str, ...], str]],
                   command: str) -> Path:
    """The comparison of a run on a statistics budget, as Markdown and JSON (no figures); without a benchmark
    table (a space nobody has trained), what each way of choosing keeps (:func:`describe_on_budget`)."""
    key, select = space.id_column, config.select
    clusters = store.read("clusters").to_pandas().set_index("arch_index").sort_index()
    clusters = clusters[budget_mask(clusters, select.constraints.max_params, select.constraints.max_macs)]
    index = clusters.index.to_numpy()
    features = stored_features(store, config.cluster.features).loc[clusters.index]
    names = list(dict.fromkeys([*select.statistics, *[name for chosen, _ in sets.values() for name in chosen]]))
    measured = store.read("stats", columns=["arch_index", *names]).to_pandas().set_index("arch_index")
    sample = None
    if sample_stats is not None:
        if not Path(sample_stats).exists():
            raise BadInput(f"--sample-stats {str(sample_stats)!r}: no such file or folder")
        frame = pd.read_parquet(sample_stats)  # one Parquet file, or a folder of parts
        lacking = [name for name in names if name not in frame.columns]
        if lacking:
            raise BadInput(f"--sample-stats {str(sample_stats)!r} lacks the statistic {lacking[0]!r}")
        sample = frame.set_index(pd.Index(space.parse_ids(frame[key].tolist()), name="arch_index"))[names]
    kept = pd.Index(np.sort(store.read("selection", columns=["arch_index"]).column(0).to_numpy()))
    run = BudgetRun(pd.Series(space.format_ids(index), index=clusters.index), clusters["cluster"],
                    stored_costs(clusters), features,
                    measured.loc[measured.index.intersection(clusters.index)], kept, tuple(select.statistics),
                    select.combine, sets)
    chosen = f"{kept_cluster(store.read_manifest()['stages']['selection'])} kept ({len(kept):,} architectures)"
    if table is None:
        return _described_budget_report(store, config, space, run, out, seeds, sample, command, chosen)
    rows = []
    for seed in range(config.seed, config.seed + seeds):  # choosing first: no accuracy read
        rows += measure_on_budget(choose_on_budget(run, seed, sample), run, table, key, seed)
    frame = pd.DataFrame(rows)
    summary = summarise(frame)
    out.mkdir(parents=True, exist_ok=True)
    results = {"command": command, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "cpus": os.cpu_count()},
               "config": portable(config.model_dump(mode="json")), "seeds": list(range(config.seed, config.seed + seeds)),
               "space": space.describe(), "measured_architectures": int(len(run.measured)),
               "sample_statistics": None if sample is None else int(len(sample)),
               "summary": summary.to_dict(orient="records"), "rows": frame.to_dict(orient="records")}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=_json_default))
    lines = ["# C-BRED on a statistics budget", "",
             f"Config `{config.name}` on the {space.name} space ({space.size:,} architectures): statistics of "
             f"{len(run.measured):,} architectures ({len(run.measured) / space.size:.2%} of the space), {chosen}. "
             f"Seeds {config.seed}..{config.seed + seeds - 1} (they change the random baselines, and the "
             "regressor only when it trains on over 10,000 measured architectures).",
             "",
             "Every subset is chosen without accuracies; the benchmark is joined afterwards. The first block keeps "
             "as many architectures as C-BRED (C); the second the same share of the measured architectures: "
             "C-BRED (Q + C) ranks the chosen cluster's measured members, Quantiled (random sample) a uniform "
             "sample of as many architectures as the run measured. " + WHAT_IS_CUT
             + ("" if sample is not None else " That sample's statistics were not given (--sample-stats): its row "
                "is left out.")
             + "".join(f" Rows marked `{SET_MARK.strip()} {label}` rank by {', '.join(chosen_set)} ({combine}) "
                       "instead, on the same cluster and sample." for label, (chosen_set, combine) in sets.items()), "",
             "Left out, because they rank every architecture of the space by its statistics and the run measured "
             f"{len(run.measured) / space.size:.2%} of it: Quantiled and Intrinsic over the whole space, and the "
             "comparison under parameter budgets. A store of a config that computes every statistic (the full or "
             "paper config) gets that comparison, with figures.", ""]
    for dataset in summary["dataset"].unique():
        part = summary[summary["dataset"] == dataset]
        lines += [f"## {dataset}", "", _table(part[part["method"].isin([*AT_CLUSTER_SIZE, BUDGET_ORACLE])], part), "",
                  _table(part[part["method"].str.split(SET_MARK, regex=False).str[0].isin(AT_BUDGET_SHARE)], part), ""]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"


def _described_budget_report(store: Store, config: RunConfig, space: SearchSpace, run: BudgetRun, out: Path,
                             seeds: int, sample: pd.DataFrame | None, command: str, chosen: str) -> Path:
    """The budget report of a space without ground truth: each way of choosing by what it keeps."""
    rows = [row for seed in range(config.seed, config.seed + seeds)
            for row in describe_on_budget(choose_on_budget(run, seed, sample), run, seed)]
    frame = pd.DataFrame(rows)
    columns = ["size", "share", "params_mean", "macs_mean", "in_kept_cluster", "measured", "statistics_rank_mean"]
    summary = frame.groupby("method", sort=False)[columns].mean().reset_index()
    out.mkdir(parents=True, exist_ok=True)
    results = {"command": command, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "machine": {"platform": platform.platform(), "python": platform.python_version(),
                           "cpus": os.cpu_count()},
               "config": portable(config.model_dump(mode="json")), "seeds": list(range(config.seed, config.seed + seeds)),
               "space": space.describe(), "ground_truth": None, "measured_architectures": int(len(run.measured)),
               "summary": summary.to_dict(orient="records"), "rows": frame.to_dict(orient="records")}
    (out / "results.json").write_text(json.dumps(results, indent=1, default=_json_default))
    lines = ["# C-BRED on a statistics budget, without ground truth", "",
             f"Config `{config.name}` on the {space.name} space ({space.size:,} architectures): statistics of "
             f"{len(run.measured):,} architectures ({len(run.measured) / space.size:.2%} of the space), {chosen}. "
             f"Seeds {config.seed}..{config.seed + seeds - 1}.", "",
             "Nobody has trained this space, so no accuracy can say which way of choosing is best (give a table of "
             "trained accuracies with --benchmark for that). Each row says what a way of choosing keeps: its size, "
             "the mean parameters and MACs of its networks, the share of it inside the kept cluster, and the mean "
             "percentile rank (1: the best) of the statistics of its members that the run measured, among all "
             "measured architectures. Means over the seeds.", "",
             _frame(summary.round({"share": 4, "params_mean": 0, "macs_mean": 0, "in_kept_cluster": 3,
                                   "measured": 1, "statistics_rank_mean": 3})), ""]
    (out / "report.md").write_text("\n".join(lines))
    return out / "report.md"


def portable(value: object, base: Path | None = None) -> object:
    """``value`` with every absolute path under ``base`` (default: the working directory) made
    relative to it, so that a result file does not name the machine it was made on."""
    base = (base or Path.cwd()).resolve()
    if isinstance(value, dict):
        return {key: portable(item, base) for key, item in value.items()}
    if isinstance(value, list):
        return [portable(item, base) for item in value]
    if isinstance(value, str) and value.startswith("/"):
        path = Path(value)
        if path.is_relative_to(base):
            return str(path.relative_to(base))
    return value


def _json_default(value: object) -> object:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(type(value).__name__)


def _figures(out: Path, summary: pd.DataFrame, dataset: str, first: Choice, space: Space,
             accuracy: pd.Series) -> dict[str, Path]:
    shown = summary[summary["method"].isin([*METHODS, ORACLE])].rename(columns={"budget": "constraint",
                                                                              "mean_std": "std"})
    paths = {"methods": figures.methods_chart(shown[["dataset", "constraint", "method", "mean", "std"]],
                                              out / "methods.png", single=("Intrinsic",))}

    scores = first.reduction.scores.dropna(subset=["score"]).sort_values("score", ascending=False)
    picks = {"best": scores.iloc[0], "median": scores.iloc[len(scores) // 2], "worst": scores.iloc[-1]}
    usage_rows = {}
    for label, row in picks.items():
        members = first.clusters.index[first.clusters.to_numpy() == row["cluster"]]
        mean_acc = accuracy.loc[space.ids.loc[members]].mean()
        name = f"{label} (cluster {int(row['cluster'])}, {len(members)} archs, mean {dataset} accuracy {mean_acc:.1f} %)"
        usage_rows[name] = space.features.loc[members].mean().to_numpy()
    usage = pd.DataFrame.from_dict(usage_rows, orient="index")
    if usage.shape[1] == len(space.space.kernel_types):  # op_usage or op_counts: one column per kernel type
        usage.columns = list(space.space.kernel_types)
    paths["op_usage"] = figures.cluster_op_usage(usage, out / "op_usage.png",
                                                 title=f"Operation usage of the best, median and worst clusters "
                                                       f"(seed {first.seed}, K = {first.clustering.k})")

    stats = first.ranks.copy()
    stats.index = space.ids.loc[stats.index].to_numpy()
    curve = tau_by_min_accuracy(stats, accuracy.loc[stats.index], default_thresholds(accuracy.loc[stats.index]),
                                seed=first.seed)
    paths["tau"] = figures.tau_by_min_accuracy(curve, out / "tau_by_min_accuracy.png",
                                               title=f"Kendall τ (oriented) against {dataset} accuracy, "
                                                     "among the networks above a minimum accuracy")
    distinct, labels, counts = distinct_points(space, first.clusters)
    scored = first.reduction.scores.dropna(subset=["score"]).set_index("cluster")["score"]
    paths["clusters"] = figures.cluster_map(figures.project_2d(distinct), labels, out / "clusters.png",
                                            selected=first.reduction.cluster, weights=counts,
                                            scores={int(c): float(scored.get(c, np.nan)) for c in np.unique(labels)})
    return paths


def _markdown(summary: pd.DataFrame, choices: pd.DataFrame, datasets: list[str], main: str, config: RunConfig,
              seeds: int, paths: dict[str, Path], out: Path) -> str:
    select, cluster = config.select, config.cluster
    lines = [
        "# C-BRED reduction report", "",
        f"Config `{config.name}` (seed {config.seed}; {seeds} seeds: {config.seed}..{config.seed + seeds - 1}). "
        f"Clustering: {cluster.method} on `{cluster.features}`"
        + (f", distance `{cluster.distance}`" if cluster.method == "spectral" else "")
        + f", K from {list(cluster.ks)}" + (f", η from {list(cluster.etas)}" if cluster.method == "spectral" else "")
        + (f", chosen by {cluster.criterion}" if len(cluster.ks) > 1 or
           (cluster.method == "spectral" and len(cluster.etas) > 1) else " (fixed)")
        + f". Cluster score: `{select.scoring}` of the oriented ranks of {', '.join(select.statistics)}; "
        f"constraints applied {select.constraints.apply} clustering.", "",
        "Every subset is chosen from the graph features and the training-free statistics alone; the benchmark "
        "accuracies are joined afterwards to measure them. Quantile rules keep as many architectures as "
        "C-BRED (Q + C). Values are means over the seeds, ± the standard deviation where the seed matters.", "",
        "Methods: **Whole space**; **Random** (same size, seeded); **Intrinsic** (the one network the statistics' "
        "rank ensemble puts first); **Quantiled** (the best-ranked of the space by the rank ensemble); "
        "**MAC-Quantiled** (the same among the networks at or under the median MACs); **C-BRED (C)** (the best "
        "cluster); **C-BRED (Q + C)** (the best-ranked members of the best cluster). `first-ranked net` is the "
        "accuracy of the network the statistics rank first inside each subset; `top-1 % recall` is the share of "
        "the budgeted space's best 1 % the subset keeps. " + WHAT_IS_CUT + " `E[best of N]` is the expected best of a random search of "
        "N networks inside the subset, shown only beside subsets of the same size (–: none, or fewer than N "
        "networks). The last row, the best networks by accuracy, is a reference no method "
        "can reach without labels.", "",
    ]
    for dataset in [main, *[d for d in datasets if d != main]]:
        lines.append(f"## {dataset}")
        for budget in summary["budget"].unique():
            part = summary[(summary["dataset"] == dataset) & (summary["budget"] == budget)]
            lines += ["", f"### constraint: {budget}", "", _table(part[part["method"].isin([*METHODS, ORACLE])], part)]
            on_sets = part[part["method"].str.contains(SET_MARK, regex=False)]
            if len(on_sets):
                lines += ["", "On other statistic sets of the store (same clusters, same size):", "",
                          _table(on_sets, part)]
            singles = part[~part["method"].isin([*METHODS, ORACLE]) & ~part["method"].isin(on_sets["method"])]
            if len(singles):
                lines += ["", "Quantiled by each statistic alone, same size:", "", _table(singles, part)]
        lines.append("")
    lines += ["## How K was chosen, and the selected cluster, per budget and seed", "",
              _frame(choices), "", "## Figures", ""]
    for key, caption in (("methods", "Mean accuracy of each way of choosing, per constraint"),
                         ("op_usage", "Operation usage of the best, median and worst clusters (no constraint)"),
                         ("tau", "Kendall τ of each statistic as the minimum accuracy rises"),
                         ("clusters", "The clusters (first two principal components of the features)")):
        lines += [f"![{caption}]({paths[key].relative_to(out)})", "", caption, ""]
    return "\n".join(lines)


def _table(part: pd.DataFrame, peers: pd.DataFrame | None = None) -> str:
    """A Markdown table of ``part``; E[best of N] is shown for rows whose size another row of ``peers`` (the
    whole section the tables of one dataset and budget come from; default ``part``) shares."""
    header = "| method | " + " | ".join(label for _, label, _ in MEASURES) + " |"
    lines = [header, "|" + "---|" * (len(MEASURES) + 1)]
    sizes = (part if peers is None else peers)["size"].round().value_counts()
    for _, row in part.iterrows():
        cells = []
        alone = sizes[round(row["size"])] < 2
        for key, _, fmt in MEASURES:
            if pd.isna(row[key]) or (key in BEST_OF and (alone or row["size"] < BEST_OF[key])):
                cells.append("–")
                continue
            text = fmt.format(row[key])
            spread = row.get(f"{key}_std", 0.0)
            if key != "size" and spread and spread > 0:
                text += " ± " + fmt.format(spread)
            cells.append(text)
        lines.append(f"| {row['method']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _frame(df: pd.DataFrame) -> str:
    """A plain Markdown table of a small frame."""
    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if np.isnan(value) else f"{value:.4g}"
        return "" if value is None else str(value)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)
