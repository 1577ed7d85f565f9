"""cbred: clustering-based reduction of neural architecture search spaces, distributed with Ray.

Exit codes: 0 success, 2 bad input (one line naming the bad value, nothing written to the
store), 130 and 143 stopped by SIGINT or SIGTERM (the store resumable), 1 anything else. Progress and
messages go to stderr, results (JSON) to stdout.
"""
from __future__ import annotations

import argparse
import errno
import json
import sys
from importlib import metadata
from pathlib import Path

from cbred_ray import stopping
from cbred_ray.errors import MESSAGE_LIMIT, BadInput, short
from cbred_ray.log import configure, log

EPILOG = """examples:
  cbred run configs/nb201_cifar100.yaml --out stores/quick
  cbred run configs/nb201_cifar100.yaml --out stores/k8 --set cluster.k=8 --set resources.num_actors=2
  cbred evaluate stores/quick
  cbred report stores/quick
  cbred spaces

exit codes: 0 success; 2 bad input (one line naming the bad value, nothing written); 130/143 stopped by
SIGINT/SIGTERM (the same command resumes); 1 anything else"""


def _out_folder(path: str, flag: str = "--out") -> str:
    """A folder the command writes into: refuse a file in its place."""
    if Path(path).is_file():
        raise BadInput(f"{flag} {path!r} is a file: give a directory (it is created if missing)")
    return path


def _out_file(path: str) -> str:
    """A file the command writes: refuse a directory in its place."""
    if Path(path).is_dir():
        raise BadInput(f"--out {path!r} is a directory: give the path of the file to write")
    return path


def _cmd_run(args: argparse.Namespace) -> int:
    from cbred_ray.api import reduce
    from cbred_ray.select.caveats import caveats, kept_cluster

    result = reduce(args.config, _out_folder(args.out), overrides=tuple(args.set), progress=not args.quiet)
    manifest = result.manifest
    selection, size = manifest["stages"]["selection"], manifest["space"]["architectures"]
    path = str(Path(args.out) / "selection")
    notes = caveats(manifest)
    log.info("done: %d of %d architectures (%.2f %%) selected, %s, in %s%s", selection["rows"], size,
             100 * selection["rows"] / size, kept_cluster(selection), path, "".join(f"; {n}" for n in notes))
    print(json.dumps({"store": args.out, "selection": path, "selected": selection["rows"],
                      "cluster": selection["cluster"], "space": manifest["space"],
                      "config_hash": manifest["config_hash"], "caveats": notes}))
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    import numpy as np

    from cbred_ray.api import open_store
    from cbred_ray.evaluate.benchmark import builtin_table, load_benchmark
    from cbred_ray.evaluate.metrics import evaluate_subset, free_baselines
    from cbred_ray.report.summary import evaluation_table
    from cbred_ray.select.caveats import caveats
    from cbred_ray.select.constraints import stored_costs
    from cbred_ray.store import Store

    result = open_store(args.store)
    space = result.space
    table = load_benchmark(args.benchmark or builtin_table(space), space)
    if result.sampled and not set(result.ids) <= set(table[space.id_column]):
        return _evaluate_region(result, table, args.compact)  # a partial table: the region, by its labelled rows
    report = evaluate_subset(result.ids, table, space_size=space.size, key=space.id_column)
    if Store(result.store).has_stage("clusters"):  # the costs of every architecture the run chose from
        costs = stored_costs(result.clusters)
        report["baselines"] = {name: evaluate_subset(space.format_ids(np.asarray(labels)), table,
                                                     space_size=space.size, key=space.id_column)["datasets"]
                               for name, labels in free_baselines(costs, report["n_selected"]).items()}
    report["space_size"], report["caveats"] = space.size, caveats(result.manifest)
    print("\n".join([evaluation_table(report), *(f"note: {n}" for n in report["caveats"])]), file=sys.stderr)
    print(json.dumps(_rounded(report), indent=None if args.compact else 2))
    return 0


def _evaluate_region(result, table, compact: bool) -> int:
    """``cbred evaluate`` of a run on a sample of its space: the labelled architectures in its region."""
    from cbred_ray.evaluate.metrics import evaluate_region
    from cbred_ray.select.caveats import caveats

    report = evaluate_region(result.contains(table[result.space.id_column].tolist()), table, result.config.seed)
    report["estimated_size"], report["caveats"] = result.estimated_size(), caveats(result.manifest)
    lines = [f"region of {result.store}: {report['inside']} of {report['labelled']} labelled architectures inside "
             f"(the region: about {report['estimated_size']['share']:.2%} of the space)"]
    for dataset, measured in report["datasets"].items():
        inside = "–" if measured["mean_inside"] is None else (
            f"{measured['mean_inside']:.2f} % [{measured['mean_inside_interval'][0]:.2f}, "
            f"{measured['mean_inside_interval'][1]:.2f}], difference {measured['difference']:+.2f} "
            f"[{measured['difference_interval'][0]:+.2f}, {measured['difference_interval'][1]:+.2f}]")
        lines.append(f"{dataset}: mean inside {inside}; all labelled {measured['mean_all']:.2f} %")
    print("\n".join([*lines, *(f"note: {n}" for n in report["caveats"])]), file=sys.stderr)
    print(json.dumps(_rounded(report), indent=None if compact else 2))
    return 0


def _rounded(value: object, digits: int = 6) -> object:
    """``value`` with every float rounded to ``digits`` decimals, for JSON that people read."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {key: _rounded(item, digits) for key, item in value.items()}
    if isinstance(value, list):
        return [_rounded(item, digits) for item in value]
    return value


def _cmd_stats(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cbred_ray.config import RunConfig, SpaceConfig, StatsConfig, load_config, one_line
    from cbred_ray.pipeline.run import run_statistics
    from cbred_ray.spaces.archfile import read_arch_strings

    if args.config:
        given = [flag for flag, value in (("--stats", args.stats), ("--data", args.data), ("--batch-size", args.batch_size),
                                          ("--num-classes", args.num_classes), ("--shard-size", args.shard_size),
                                          ("--seed", args.seed), ("--space", args.space)) if value is not None]
        if given:
            raise BadInput(f"cbred stats: {given[0]} cannot be combined with --config (the config's stats section and seed are used)")
        run_config = load_config(args.config, args.set)
        cfg, seed, space, resources = run_config.stats, run_config.seed, run_config.space.space(), run_config.resources
    else:
        if args.set:
            raise BadInput(f"cbred stats: --set {args.set[0]!r} needs --config (it changes a config)")
        resources = None
        if not args.stats:
            raise BadInput("cbred stats: give --stats (comma-separated statistic names) or --config")
        data = {} if args.data is None else {"source": None if args.data == "synthetic" else args.data}
        if args.batch_size is not None:
            data["batch_size"] = args.batch_size
        given = {"num_classes": args.num_classes, "shard_size": args.shard_size}
        try:
            cfg = StatsConfig(names=tuple(n.strip() for n in args.stats.split(",") if n.strip()), data=data,
                              **{key: value for key, value in given.items() if value is not None})
            seed = RunConfig(seed=0 if args.seed is None else args.seed).seed
            space = SpaceConfig(name=args.space or "nb201").space()  # the space's default parameters
        except ValidationError as err:
            raise BadInput(one_line(err, "cbred stats")) from None
    if args.archs:
        archs = read_arch_strings(args.archs, space)
    elif space.size <= 1_000_000:
        archs = space.format_ids(range(space.size))
    else:
        raise BadInput(f"cbred stats: the {space.name} space has {space.size} architectures: list them with --archs")
    manifest = run_statistics(archs, cfg, _out_folder(args.out), seed=seed, progress=not args.quiet, space=space,
                              resources=resources, overrides=tuple(args.set))
    print(json.dumps({"store": args.out, "rows": manifest["rows"]["stats"], "statistics": list(cfg.names)}))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from cbred_ray.store import Store

    store, out = Store(args.store), _out_file(args.out)
    manifest = store.read_manifest()
    finished = manifest.get("status") == "done" or manifest.get("stages", {}).get(args.stage, {}).get("status") == "done"
    if not finished and not args.partial:
        store.read_finished([args.stage], "run it to the end, or pass --partial to write the rows it has")
    rows = store.export(args.stage, out)
    if not finished:
        log.warning("export: the %s stage is not finished (run status %r): %s holds the %d rows written so far",
                    args.stage, manifest.get("status"), args.out, rows)
    print(json.dumps({"out": args.out, "stage": args.stage, "rows": rows, "partial": not finished}))
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from cbred_ray.report.report import write_report

    if args.seeds < 1:
        raise BadInput(f"--seeds must be at least 1, got {args.seeds}")
    path = write_report(args.store, args.benchmark, args.out and _out_folder(args.out), seeds=args.seeds, progress=not args.quiet,
                        sample_stats=args.sample_stats, also=args.also)
    print(json.dumps({"report": str(path)}))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from cbred_ray.api import open_store

    if args.n < 1:
        raise BadInput(f"-n must be at least 1, got {args.n}")
    result = open_store(args.store)
    indices, drawn = result.sample_indices(args.n, args.seed)
    ids = result.space.format_ids(indices)
    if args.out:
        _write_ids(_out_file(args.out), result.space.id_column, ids)
    else:
        sys.stdout.write("".join(f"{i}\n" for i in ids))
    log.info("sample: %d architectures of the reduced space from %d candidates (%.1f per architecture)%s",
             len(ids), drawn, drawn / len(ids), f", in {args.out}" if args.out else "")
    return 0


def _write_ids(path: str, column: str, ids: list[str]) -> None:
    """Identifiers to a Parquet table (one column named as the space's) or, for any other suffix, one per line."""
    if Path(path).suffix == ".parquet":
        import pyarrow as pa

        from cbred_ray.store.atomic import write_table_atomic

        write_table_atomic(path, pa.table({column: pa.array(ids, pa.string())}))
    else:
        Path(path).write_text("".join(f"{i}\n" for i in ids))


def _cmd_contains(args: argparse.Namespace) -> int:
    from cbred_ray.api import open_store
    from cbred_ray.spaces.archfile import read_arch_strings

    result = open_store(args.store)
    ids = list(args.ids) + (read_arch_strings(args.file, result.space) if args.file else [])
    if not ids:
        raise BadInput("give identifiers, or --file with one per line (or a Parquet table of them)")
    inside = result.contains(ids)
    for text, member in zip(ids, inside):
        print(json.dumps({"id": text, "member": bool(member)}))
    log.info("contains: %d of %d in the reduced space", int(inside.sum()), len(ids))
    return 0


def _cmd_spaces(args: argparse.Namespace) -> int:
    from cbred_ray.spaces.registry import describe_spaces

    print(json.dumps(describe_spaces(), indent=None if args.compact else 2))
    return 0


def _cmd_import(args: argparse.Namespace) -> int:
    from cbred_ray.evaluate.nb201_import import import_nb201

    rows = import_nb201(args.benchmark, _out_file(args.out))
    print(json.dumps({"out": args.out, "rows": rows}))
    return 0


def _with_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value, validated like the YAML (repeatable; the value is read "
                             "as YAML: --set cluster.k=8, --set cluster.k=[8,16], --set stats.data.source=null)")


def _with_quiet(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quiet", action="store_true",
                        help="only warnings and errors on stderr (no progress; Ray's logging too)")


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="cbred", description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                     formatter_class=formatter)
    try:
        version = metadata.version("cbred-ray")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        version = "unknown"
    parser.add_argument("--version", action="version", version=f"cbred {version}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a reduction from a YAML config into a store",
                         description="Run a reduction: graphs -> clusters -> statistics -> selection, into a store "
                                     "(resumed when the store was made by the same config).")
    run.add_argument("config", help="YAML run config (see configs/; 'base: FILE' lays it over another config)")
    run.add_argument("--out", required=True, help="store directory (created; resumed if made by the same config)")
    _with_set(run)
    _with_quiet(run)
    run.set_defaults(fn=_cmd_run)

    ev = sub.add_parser("evaluate", help="measure a store's selection against a benchmark table (JSON on stdout)",
                        description="Measure a store's selection against the benchmark's ground truth: mean and "
                                    "spread of accuracy, top-k recall, expected best of n draws.")
    ev.add_argument("store", help="a store made by cbred run")
    ev.add_argument("--benchmark", default=None, help="Parquet table with the space's identifier column (arch_str; "
                    "hash for NB101) and *_acc columns (default: the table built in for the store's space)")
    ev.add_argument("--compact", action="store_true", help="one-line JSON")
    ev.set_defaults(fn=_cmd_evaluate)

    st = sub.add_parser("stats", help="compute training-free statistics for a list of architectures "
                        "(default: the whole space)",
                        description="Compute training-free statistics into a store, for a list of architectures "
                                    "or the whole space.")
    st.add_argument("--archs", default=None,
                    help="text file (one identifier per line) or Parquet with the space's identifier column (arch_str; "
                         "hash for NB101); default: every architecture of the space")
    st.add_argument("--space", default=None, help="the space of --archs, with its default parameters: a registered "
                    "name (cbred spaces lists them) or package.module:Class (default nb201; other parameters: "
                    "--config)")
    st.add_argument("--config", default=None, help="a run config: its stats section, seed and resources "
                    "(instead of the flags below)")
    st.add_argument("--stats", default=None, help="comma-separated statistic names, e.g. naswot_v2,logsynflow")
    st.add_argument("--out", required=True, help="store directory (created; resumed if made by the same settings)")
    st.add_argument("--seed", type=int, default=None, help="the run's seed (default 0): each repeat's networks' "
                    "initialisation and batch draw from its own child of it, as in a reduction")
    st.add_argument("--data", default=None,
                    help="batch source: 'synthetic', 'cifar100-sample25' (built in, the default), 'cifar10-sample20' "
                         "(built in), an .npz of images, a cifar-100-python or a cifar-10-batches-py folder")
    st.add_argument("--batch-size", type=int, default=None, help="images in the input batch (default 128)")
    st.add_argument("--num-classes", type=int, default=None, help="classes of the network's head (default 100)")
    st.add_argument("--shard-size", type=int, default=None, help="distinct cells per shard (default 25)")
    _with_set(st)
    _with_quiet(st)
    st.set_defaults(fn=_cmd_stats)

    ex = sub.add_parser("export", help="one stage of a store as one Parquet file, the manifest in its metadata",
                        description="Write one stage of a store as one Parquet file (rows in arch_index order), "
                                    "with the store's manifest in the file's metadata (key cbred_manifest).")
    ex.add_argument("store", help="a store made by cbred run or cbred stats")
    ex.add_argument("--stage", default="stats", choices=("graphs", "stats", "clusters", "scores", "selection"),
                    help="the stage to write (default stats)")
    ex.add_argument("--out", required=True, help="Parquet file to write (replaced if it exists)")
    ex.add_argument("--partial", action="store_true", help="write the rows of a stage that is not finished (a run "
                    "still going, or stopped): said on stderr and in the output (partial: true); without it, exit 2")
    ex.set_defaults(fn=_cmd_export)

    rp = sub.add_parser("report", help="the paper's comparison of ways of choosing, with figures (report.md)",
                        description="Compare C-BRED with the other ways of choosing a subset, against the "
                                    "benchmark's ground truth: report.md, results.json and figures.")
    rp.add_argument("store", help="a store made by cbred run")
    rp.add_argument("--benchmark", default=None, help="Parquet table with the space's identifier column and *_acc "
                    "columns (default: the table built in for the store's space)")
    rp.add_argument("--sample-stats", default=None, help="a run on a statistics budget: statistics of a uniform "
                    "sample of as many architectures (cbred export --stage stats; a Parquet file or a folder of parts), for "
                    "the Quantiled baseline")
    rp.add_argument("--out", default=None, help="folder for report.md, results.json and the figures "
                    "(default STORE/report)")
    rp.add_argument("--seeds", type=int, default=5, help="seeds of the clustering and the random baseline (default 5)")
    rp.add_argument("--also", action="append", default=[], metavar="LABEL=NAME,NAME[:COMBINE]",
                    help="another set of the store's statistics to run Quantiled and C-BRED (Q + C) on too, e.g. "
                         "paper=naswot_v2,logsynflow or az=az_expressivity,az_progressivity:log_rank (repeatable)")
    _with_quiet(rp)
    rp.set_defaults(fn=_cmd_report)

    sa = sub.add_parser("sample", help="draw architectures of a store's reduced space (identifiers on stdout)",
                        description="Draw N distinct architectures of the reduced space of a finished run, uniformly "
                                    "and seeded: from its selection when the run listed its space, from the whole "
                                    "space by the region's rule when the run clustered a sample of it.")
    sa.add_argument("store", help="a store made by cbred run")
    sa.add_argument("-n", type=int, required=True, help="how many architectures to draw")
    sa.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    sa.add_argument("--out", default=None, help="write them to this file instead (.parquet: a table with the "
                    "space's identifier column; otherwise one per line)")
    _with_quiet(sa)
    sa.set_defaults(fn=_cmd_sample)

    co = sub.add_parser("contains", help="whether architectures are in a store's reduced space (JSON lines)",
                        description="Say, for each identifier, whether its architecture is in the reduced space of "
                                    "a finished run: one JSON line {id, member} each.")
    co.add_argument("store", help="a store made by cbred run")
    co.add_argument("ids", nargs="*", help="identifiers of the store's space")
    co.add_argument("--file", default=None, help="also those of a file (one per line, or a Parquet table with the "
                    "space's identifier column)")
    _with_quiet(co)
    co.set_defaults(fn=_cmd_contains)

    sp = sub.add_parser("spaces", help="every registered search space, its parameters and size (JSON on stdout)",
                        description="List the search spaces a config may name: the built-in ones, those of installed "
                                    "distributions (entry-point group cbred_ray.spaces) and any registered in Python; "
                                    "each with its parameters (default, description) and its size at the defaults.")
    sp.add_argument("--compact", action="store_true", help="one-line JSON")
    sp.set_defaults(fn=_cmd_spaces)

    im = sub.add_parser("import-nb201", help="benchmark table from the official NAS-Bench-201 file",
                        description="Write the benchmark table (arch_str and test accuracies) from the official "
                                    "NAS-Bench-201 .pth file.")
    im.add_argument("benchmark", help="the official .pth file")
    im.add_argument("--out", required=True, help="Parquet table to write (replaced if it exists)")
    im.set_defaults(fn=_cmd_import)
    return parser


def _cause(err: BaseException) -> BaseException:
    """The error behind Ray's wrappers: a task's or an actor's exception reaches the driver wrapped (its
    ``cause``), with the remote traceback in its text."""
    seen: set[int] = set()
    while id(err) not in seen:
        seen.add(id(err))
        inner = getattr(err, "cause", None)
        if isinstance(inner, BaseException):
            err = inner
        elif err.__cause__ is not None and type(err).__module__.startswith("ray"):
            err = err.__cause__
        else:
            break
    return err


def failure_line(err: BaseException) -> str:
    """One line for an error that is not the user's input: the same whether the driver or a worker met it."""
    err = _cause(err)
    if isinstance(err, OSError) and err.errno == errno.ENOSPC:
        where = f" writing {err.filename!r}" if err.filename else ""
        return f"no space left on device{where}: free some space (or give --out on a larger volume) and run the " \
               "same command again to resume"
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure(getattr(args, "quiet", False))
    try:
        with stopping.stopping_on_signals():
            return args.fn(args)
    except BadInput as err:
        print(short(f"cbred: error: {_cause(err)}", MESSAGE_LIMIT), file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001 - the CLI's last line of defence
        print(short(f"cbred: failed: {failure_line(err)}", MESSAGE_LIMIT), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
