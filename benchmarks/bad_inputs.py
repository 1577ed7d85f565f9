"""The bad inputs and rough edges that a new user met, each run through `cbred` as a user runs it.

    python benchmarks/bad_inputs.py --out benchmarks/results/bad_inputs.json [--src OTHER_CHECKOUT]

Each case runs real `cbred` processes in a fresh folder and records the exit codes, the number
of lines on stderr (and the last one), and whether a store was left behind; the work folder is
written as WORK and this machine's host name as HOST. ``--src`` runs the
`cbred_ray` package of another checkout (PYTHONPATH), to record the same cases before a change.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from provenance import provenance

REPO = Path(__file__).resolve().parents[1]
TINY = yaml.safe_load((REPO / "configs" / "nb201_tiny.yaml").read_text())
TINY.get("stats", {}).pop("torch_threads", None)  # an older checkout kept it there; it is the default anyway


LIMIT = 120
"""Seconds a case that should be refused at once may run before it is stopped (and recorded as such)."""


def cbred(env: dict, cwd: Path, *args, wait: bool = True, limit: float = 900):
    """`cbred ARGS` in its own process group, run in ``cwd`` (outside any checkout, so that the package
    comes from ``env``'s PYTHONPATH or the installed one); a run still going after ``limit`` seconds is
    killed with its whole group (its Ray too) and has exit code None."""
    command = [sys.executable, "-m", "cbred_ray.cli", *map(str, args)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, cwd=cwd)
    if not wait:
        return proc
    try:
        out, err = proc.communicate(timeout=limit)
        return subprocess.CompletedProcess(command, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return subprocess.CompletedProcess(command, None, out, err + f"\n(still running after {limit} s: stopped)")


def outcome(proc, store: Path | None = None) -> dict:
    lines = [line for line in proc.stderr.splitlines() if line.strip() and "shards:" not in line]
    found = {"exit": proc.returncode, "stderr_lines": len(lines), "last_stderr_line": lines[-1][:300] if lines else ""}
    if store is not None:
        found["store_left"] = store.exists() and any(store.iterdir()) if store.is_dir() else store.exists()
    return found


def cases(env: dict, work: Path) -> dict:
    def run(*args, **options):
        return cbred(env, work, *args, **options)

    where = subprocess.run([sys.executable, "-c", "import cbred_ray; print(cbred_ray.__file__)"],
                           capture_output=True, text=True, env=env, cwd=work).stdout.strip()
    results = {"package_from": "the --src checkout" if env.get("PYTHONPATH") and where.startswith(env["PYTHONPATH"])
               else "this checkout"}
    empty = work / "empty.yaml"
    empty.write_text("")
    results["empty_yaml"] = outcome(run("run", empty, "--out", work / "s_empty", "--quiet", limit=LIMIT),
                                    work / "s_empty")

    k500 = work / "k500.yaml"
    k500.write_text(yaml.safe_dump({**TINY, "cluster": {**TINY["cluster"], "k": 500}}))
    results["k_500"] = outcome(run("run", k500, "--out", work / "s_k500", "--quiet", limit=LIMIT),
                               work / "s_k500")

    tiny = work / "tiny.yaml"
    tiny.write_text(yaml.safe_dump(TINY))
    taken = work / "a_file"
    taken.write_text("mine")
    results["out_is_a_file_run"] = outcome(run("run", tiny, "--out", taken, "--quiet"))
    results["out_is_a_file_stats"] = outcome(run("stats", "--stats", "params", "--out", taken, "--quiet"))
    results["version"] = {**outcome(run("--version")), "stdout": run("--version").stdout.strip()}

    # configs that are not UTF-8 YAML of a sane size, a directory as the config, a store that cannot be written
    levels = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    for name, content in {"latin-1": "name: café\n".encode("latin-1"), "utf-16": yaml.safe_dump(TINY).encode("utf-16"),
                          "binary": bytes(range(256)), "alias_bomb": ("\n".join(levels) + "\ncluster: {k: *l8}\n").encode(),
                          "long_bad_value": yaml.safe_dump({**TINY, "cluster": {"k": "x" * 100_000}}).encode()}.items():
        path = work / f"config_{name}.yaml"
        path.write_bytes(content)
        results[f"config_{name}"] = outcome(run("run", path, "--out", work / f"s_{name}", "--quiet", limit=LIMIT),
                                            work / f"s_{name}")
    results["config_is_a_directory"] = outcome(run("run", work, "--out", work / "s_dir", "--quiet", limit=LIMIT),
                                               work / "s_dir")
    unwritable = Path("/sys/cbred-store") if os.geteuid() == 0 else work / "read_only" / "store"
    if os.geteuid() != 0:
        unwritable.parent.mkdir(mode=0o555)
    results["store_cannot_be_written"] = outcome(run("run", tiny, "--out", unwritable, "--quiet", limit=LIMIT),
                                                 unwritable)

    started = time.perf_counter()
    quiet = run("run", tiny, "--out", work / "s_quiet", "--quiet")
    results["quiet_run"] = {**outcome(quiet), "seconds": round(time.perf_counter() - started, 1),
                            "stdout_names_selection_path": str(work / "s_quiet" / "selection") in quiet.stdout}
    results["out_is_a_file_report"] = outcome(run("report", work / "s_quiet", "--out", taken, "--quiet"))

    # two drivers on one store at once: the tiny config, and the same with seed 4
    seed4 = work / "seed4.yaml"
    seed4.write_text(yaml.safe_dump({**TINY, "seed": 4}))
    first = run("run", tiny, "--out", work / "s_shared", "--quiet", wait=False)  # both at the same moment
    second = run("run", seed4, "--out", work / "s_shared", "--quiet", wait=False)
    out1, err1 = first.communicate(timeout=900)
    out2, err2 = second.communicate(timeout=900)
    manifest = json.loads((work / "s_shared" / "manifest.json").read_text())
    stats = pd.read_parquet(work / "s_shared" / "stats")
    expected = {3: None, 4: None}
    for seed, config in ((3, tiny), (4, seed4)):  # the statistics each run alone would store
        alone = run("run", config, "--out", work / f"s_alone{seed}", "--quiet")
        if alone.returncode == 0:
            expected[seed] = sorted(pd.read_parquet(work / f"s_alone{seed}" / "stats")["arch_index"])
    held = sorted(stats["arch_index"])
    results["two_drivers_one_store"] = {
        "exits": sorted([first.returncode, second.returncode]),
        "refused_line": next((([line for line in err.splitlines() if line.strip()] or [""])[-1][:300]
                              for err in (err1, err2) if "error" in err), ""),
        "manifest_seed": manifest.get("seed"),
        "stats_are_those_of_seed": [seed for seed, rows in expected.items() if rows == held]}

    # a store started with 1 actor, finished with 2 (the resources of the statistics)
    one = work / "one_actor.yaml"
    two = work / "two_actors.yaml"
    resources_old = {"stats": {**TINY["stats"], "num_actors": 1}}
    resources_new = {"resources": {"num_actors": 1}}
    probe = run("run", tiny, "--out", work / "s_probe", "--set", "resources.num_actors=1", "--quiet")
    new_style = probe.returncode == 0
    one.write_text(yaml.safe_dump({**TINY, **(resources_new if new_style else resources_old)}))
    two.write_text(yaml.safe_dump({**TINY, **({"resources": {"num_actors": 2}} if new_style else
                                              {"stats": {**TINY["stats"], "num_actors": 2}})}))
    run("run", one, "--out", work / "s_actors", "--quiet")
    results["resume_with_other_resources"] = outcome(run("run", two, "--out", work / "s_actors", "--quiet"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=None, help="a checkout whose cbred_ray to run (default: this one)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    env = dict(os.environ)
    if args.src:
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        text = json.dumps(cases(env, Path(tmp))).replace(str(Path(tmp)), "WORK")
        results = json.loads(text.replace(f"host '{socket.gethostname()}'", "host 'HOST'"))
    src = Path(args.src).resolve() if args.src else REPO
    commit = subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    out = {"command": "python benchmarks/bad_inputs.py" + (" --src CHECKOUT" if args.src else "") + f" --out {args.out}",
           **provenance(), "cbred_ray_of_commit": commit, "cases": results}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
