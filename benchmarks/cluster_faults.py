"""The faults of a cluster, each injected for real into `cbred run` on NB201 and compared with an
uninterrupted run of the same config: lost nodes, SIGTERM and SIGINT, damaged files, readers during a writer.

    python benchmarks/cluster_faults.py --injections 3 [--only node signal disk damaged readers]

``--only`` measures some sections again and keeps the others the results file has, each with the command,
commit and date that measured it.

- **node lost**: a cluster of a head (no CPU; it only drives) and two worker nodes of one CPU each, started as
  an operator starts one (`ray start --head`, `ray start --address`, in a Ray folder of its own); `cbred run`
  joins it through RAY_ADDRESS; one worker node's processes (its raylet, its workers) are SIGKILLed in the
  middle of a stage (of a run on 200,000 sampled 5-node cells, so that work is in flight): graphs (after 1
  shard), statistics (after 2 shards), a successive-halving run's statistics (after 2 shards), or the
  distributed clustering (once a holder runs on that node). The run goes on, on the node that remains,
  without anyone running it again. Each injection records the losses the run saw (its log lines, Ray's
  retries of graphs tasks, the manifest's counts): a kill that lands when the node has no work left costs
  nothing, and says so.
- **SIGTERM / SIGINT**, to the driver alone and to its process group (its Ray too), once 3 statistics shards
  are written: the exit code, the lines on stderr, the manifest's status and the lock; then the same command.
- **disk full**: `cbred run` with its store on a tmpfs too small for it, mounted in a user and mount namespace
  of its own (`unshare -rm`), sized so that a graphs task, the driver (writing the clusters) or a statistics
  actor is the first to find it full; then the volume is made larger and the same command run again.
- **damaged files** in a finished store (a shard's record: binary bytes, a JSON list) or before a run (the
  lock's lease: binary, a JSON list, a text heartbeat, another host's heartbeat in the year 2255; the
  manifest: binary, a JSON list), then the same command.
- **readers during a writer**: `cbred report`, `evaluate` and `export` (with and without `--partial`) while
  `cbred run` is in its statistics.

Writes ``benchmarks/results/cluster_faults.json`` (paths written as STORE, WORK) and the faults of a cluster into
the one table of faults, ``fault_table.md`` (below ``fault_table.py``'s).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml
from provenance import provenance

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import fault_injection as fi  # noqa: E402
from fault_report import cluster_markdown, write_table  # noqa: E402

SEED = 3
CONFIG = {
    "name": "cluster_faults", "seed": SEED, "graphs": {"shard_size": 2000},
    "stats": {"names": ["naswot_v2", "logsynflow", "params", "macs"], "data": {"batch_size": 8}, "shard_size": 1},
    "cluster": {"k": 6, "n_init": 2},
    "select": {"statistics": ["naswot_v2", "logsynflow"], "min_cluster_size": 2, "bootstrap": 50,
               "quick": {"enabled": True, "sample_per_cluster": 4}},
}
"""The whole NB201 space in 8 graphs shards, 6 clusters scored from 4 sampled members each (24 statistics
shards of one cell)."""
NODE = {**CONFIG, "name": "cluster_faults_node", "space": {"name": "cell", "nodes": 5, "sample": 200_000},
        "graphs": {"shard_size": 5000}, "stats": {**CONFIG["stats"], "data": {"batch_size": 64}},
        "select": {**CONFIG["select"], "quick": {"enabled": True, "sample_per_cluster": 8}}}
"""The node faults need work in flight when the node goes: 200,000 sampled 5-node cells in 40 graphs shards,
48 statistics shards at a batch of 64."""
HALVING = {**NODE, "name": "cluster_faults_halving",
           "select": {**{k: v for k, v in NODE["select"].items() if k != "quick"},
                      "halving": {"enabled": True, "budget": 0.0005}}}
"""The same, its clusters scored by successive halving within 0.05 % of the sample (100 architectures)."""
HOLDERS = {**NODE, "name": "cluster_faults_holders", "cluster": {"k": 6, "n_init": 10, "engine": "distributed"}}
"""Distributed k-means (10 restarts) over the 40 graphs shards, held by two holder actors."""


def _cbred(args, env=None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cbred_ray.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True, **kw)


def _finish(proc: subprocess.Popen, timeout: float = 1800) -> tuple[int | None, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err
    return proc.returncode, out, err


def _lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip() and "shards:" not in line]


def _manifest(store: Path) -> dict:
    try:
        return json.loads((store / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}


def _table(store: Path, stage: str) -> pd.DataFrame:
    frame = pd.read_parquet(store / stage)
    return frame.sort_values("arch_index").reset_index(drop=True) if "arch_index" in frame else frame


def _compare(store: Path, reference: Path) -> dict:
    try:
        got, want = _table(store, "stats"), _table(reference, "stats")
        ids = got["arch_index"].to_numpy()
        return {"rows_lost": int(len(set(want["arch_index"]) - set(ids))), "rows_duplicated": int(len(ids) - len(set(ids))),
                "stats_equal": got.equals(want), "selection_equal": _table(store, "selection").equals(
                    _table(reference, "selection"))}
    except (OSError, ValueError, KeyError) as err:
        return {"rows_lost": None, "rows_duplicated": None, "stats_equal": False, "selection_equal": False,
                "error": type(err).__name__}


def _wait(ready, proc: subprocess.Popen, timeout: float = 900) -> bool:
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    return proc.poll() is None


class LocalCluster:
    """A head (no CPU) and worker nodes (one CPU each) started with `ray start`, in a Ray folder of their own."""

    def __init__(self, workers: int = 2):
        self.folder = tempfile.mkdtemp(prefix="cbred-cf-")
        self.env = {**os.environ, "RAY_TMPDIR": self.folder, "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(32)}  # Ray's default for a head: a fresh token of its own
        self.head = self._start(["--head", "--num-cpus", "0", "--port", "0", "--include-dashboard", "false"])
        address_file = Path(self.folder) / "ray" / "ray_current_cluster"
        deadline = time.monotonic() + 120
        while not address_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        self.address = address_file.read_text().strip()
        self.env["RAY_ADDRESS"] = self.address
        self.workers = []
        for count in range(1, workers + 1):  # one at a time: raylets started together on one host can collide
            self.workers.append(self._start(["--address", self.address, "--num-cpus", "1"]))
            self.wait_for_cpus(count)

    def wait_for_cpus(self, count: int, timeout: float = 120) -> None:
        probe = "import ray; ray.init(logging_level='ERROR'); print(int(ray.cluster_resources().get('CPU', 0)))"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = subprocess.run([sys.executable, "-c", probe], env=self.env, capture_output=True, text=True)
            if done.stdout.strip().splitlines()[-1:] == [str(count)]:
                return
            time.sleep(1)
        raise RuntimeError(f"the cluster did not reach {count} CPUs")

    def _start(self, args: list[str]) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "ray.scripts.scripts", "start", *args, "--block"],
                                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)

    def kill_worker(self, i: int) -> None:
        os.killpg(self.workers[i].pid, signal.SIGKILL)  # its raylet and every worker it started
        self.workers[i].wait()

    def close(self) -> None:
        for proc in [*self.workers, self.head]:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def node_lost(work: Path, stage: str, config: dict, reference: Path, injections: int) -> dict:
    path = work / f"node_{config['name']}_{stage}.yaml"
    path.write_text(yaml.safe_dump(config))
    records = []
    for i in range(injections):
        store = work / f"node_{config['name']}_{stage}_{i}"
        cluster = LocalCluster()
        try:
            run = _cbred(["run", path, "--out", store], env=cluster.env)
            victim = [0]
            if stage == "clusters":  # holders are spread over the nodes (the head's too): a worker that has one

                def ready() -> bool:
                    held = [i for i, w in enumerate(cluster.workers)
                            if fi.descendants_named(b"ray::ShardHolder", w.pid)]
                    victim[:] = held[:1] or victim
                    return bool(held)
            else:
                folder = "graphs" if stage == "graphs" else "stats"
                at = 1 if stage == "graphs" else 2
                ready = lambda: len(fi.shard_files(store, folder)) >= at  # noqa: E731
            injected = _wait(ready, run)
            if injected:
                cluster.kill_worker(victim[0])
            code, _, err = _finish(run)
        finally:
            cluster.close()
        record = _manifest(store).get("stages", {})
        lost_lines = [line for line in err.splitlines() if "lost" in line or "retried" in line]
        records.append({"injected": injected, "exit": code, "completed": code == 0, **_compare(store, reference),
                        "nodes_lost_in_manifest": record.get("graphs", {}).get("nodes_lost"),
                        "actors_lost_in_manifest": record.get("stats", {}).get("actors_lost"),
                        "holders_lost_in_manifest": record.get("clusters", {}).get("holders_lost"),
                        "loss_lines_on_stderr": len(lost_lines), "a_loss_line": lost_lines[0][:200] if lost_lines else "",
                        "last_line": (_lines(err) or [""])[-1][:300].replace(str(work), "WORK")})
    return {"fault": f"a worker node lost in the {stage} stage" + (" (successive halving)" if "halving" in config["name"]
                                                                    else ""), "records": records}


def stopped(work: Path, signum: int, group: bool, reference: Path, injections: int) -> dict:
    path = work / "config.yaml"
    records = []
    for i in range(injections):
        store = work / f"{signal.Signals(signum).name}_{'group' if group else 'driver'}_{i}"
        run = _cbred(["run", path, "--out", store, "--quiet"])
        injected = _wait(lambda: len(fi.shard_files(store, "stats")) >= 3, run)
        (os.killpg if group else os.kill)(run.pid, signum)
        code, _, err = _finish(run, timeout=120)
        try:
            os.killpg(run.pid, signal.SIGKILL)  # what Ray left behind, when only the driver was signalled
        except ProcessLookupError:
            pass
        fi.settle(store)
        lines = _lines(err)
        manifest, lease = _manifest(store), (store / ".cbred-lock").read_text() if (store / ".cbred-lock").exists() else ""
        resumed = _cbred(["run", path, "--out", store, "--quiet"])
        resumed_code, _, _ = _finish(resumed)
        records.append({"injected": injected, "exit": code, "cbred_lines": sum(line.startswith("cbred:") for line in lines),
                        "last_line": lines[-1][:300] if lines else "", "stderr_lines": len(lines),
                        "status": manifest.get("status"), "lock_released": lease == "",
                        "completed": resumed_code == 0, **_compare(store, reference)})
    return {"fault": f"{signal.Signals(signum).name} to the {'process group' if group else 'driver'} in the statistics",
            "records": records}


DISK_FULL = {"a worker (a graphs task)": "16k", "the driver (the clusters stage)": "300k",
             "a worker (a statistics actor)": "450k"}
"""The size of the volume that fills in each case: the driver's first writes fit in 16 KiB but no graphs
shard does; the graphs (about 240 KiB) fit in 300 KiB, the clusters the driver writes next (156 KiB) do
not; both fit in 450 KiB, the statistics shards the actors write next (20 of 8 KiB) do not."""
DISK_FULL_SCRIPT = """set -e
mount -t tmpfs -o size="$1" tmpfs "$2"
set +e
"$3" -m cbred_ray.cli run "$4" --out "$2/store" --quiet 2> "$5.err1"; echo $? > "$5.code1"
mount -o remount,size=64m "$2"
"$3" -m cbred_ray.cli run "$4" --out "$2/store" --quiet 2> "$5.err2"; echo $? > "$5.code2"
cp -a "$2/store" "$5.store"
"""


def disk_full(work: Path, reference: Path, injections: int) -> list[dict]:
    """`cbred run` with its store on a tmpfs too small for it (mounted in a user and mount namespace of its
    own), then the same command once the volume is made larger."""
    rows = []
    for where, size in DISK_FULL.items():
        records = []
        for i in range(injections):
            volume, out = work / f"volume_{size}_{i}", work / f"disk_{size}_{i}"
            volume.mkdir()
            done = subprocess.run(["unshare", "-rm", "sh", "-c", DISK_FULL_SCRIPT, "sh", size, volume, sys.executable,
                                   work / "config.yaml", out], capture_output=True, text=True, timeout=1800)
            first = (Path(f"{out}.err1").read_text() if Path(f"{out}.err1").exists() else done.stderr)
            lines = _lines(first)
            code = lambda n: int(Path(f"{out}.code{n}").read_text()) if Path(f"{out}.code{n}").exists() else None  # noqa: E731
            records.append({"exit": code(1), "cbred_lines": sum(line.startswith("cbred:") for line in lines),
                            "stderr_lines": len(lines), "last_line": (lines or [""])[-1][:300].replace(str(volume), "VOLUME"),
                            "resumed_exit": code(2), "completed": code(2) == 0,
                            **_compare(Path(f"{out}.store"), reference)})
        rows.append({"fault": f"no space left on device, met by {where} ({size} volume)", "records": records})
    return rows


def damaged(work: Path, reference: Path) -> list[dict]:
    path = work / "config.yaml"
    rows = []
    record_cases = {"binary": b"\xa4\xff\x00\x13", "a JSON list": b"[1, 2]"}
    for name, content in record_cases.items():
        store = work / f"record_{name.replace(' ', '_')}"
        shutil.copytree(reference, store)
        (store / "stats" / ".shard-00003.parquet.json").write_bytes(content)
        code, _, err = _finish(_cbred(["run", path, "--out", store, "--quiet"]))
        stages = _manifest(store).get("stages", {})
        rows.append({"fault": f"a statistics shard's record is {name}", "exit": code,
                     "completed": code == 0, "redone": stages.get("stats", {}).get("shards", {}).get("redone_broken"),
                     **_compare(store, reference)})
    leases = {"binary": b"\xa4\xff\x00\x13", "a JSON list": b"[1]",
              "a text heartbeat": json.dumps({"host": "other", "pid": 1, "heartbeat": "soon"}).encode(),
              "another host's heartbeat in 2255": json.dumps({"host": "other", "pid": 1, "heartbeat": 9e9}).encode()}
    for name, content in leases.items():
        store = work / f"lease_{len(rows)}"
        store.mkdir()
        (store / ".cbred-lock").write_bytes(content)
        fresh_code, _, fresh_err = _finish(_cbred(["run", path, "--out", store, "--quiet"]))
        stale = time.time() - 61
        os.utime(store / ".cbred-lock", (stale, stale))
        code, _, err = _finish(_cbred(["run", path, "--out", store, "--quiet"]))
        fresh_lines = _lines(fresh_err)
        rows.append({"fault": f"the lock's lease is {name}", "exit_while_fresh": fresh_code,
                     "line_while_fresh": (fresh_lines[-1][:300] if fresh_lines else "").replace(str(work), "WORK"),
                     "lines_while_fresh": len(fresh_lines), "exit": code, "completed": code == 0,
                     **_compare(store, reference)})
    for name, content in {"binary": b"\xa4\xff\x00\x13", "a JSON list": b"[1, 2, 3]"}.items():
        store = work / f"manifest_{name.replace(' ', '_')}"
        shutil.copytree(reference, store)
        (store / "manifest.json").write_bytes(content)
        code, _, err = _finish(_cbred(["run", path, "--out", store, "--quiet"]))
        lines = _lines(err)
        rows.append({"fault": f"the manifest is {name}", "exit": code, "stderr_lines": len(lines),
                     "last_line": (lines[-1][:300] if lines else "").replace(str(work), "WORK"),
                     "completed": False, "names_the_file": bool(lines) and "manifest.json" in lines[-1]})
    return rows


def readers(work: Path) -> list[dict]:
    """Readers while a slower writer (40 members of each cluster measured) is in its statistics."""
    path, store = work / "slow.yaml", work / "being_written"
    path.write_text(yaml.safe_dump({**CONFIG, "select": {**CONFIG["select"],
                                                          "quick": {"enabled": True, "sample_per_cluster": 40}}}))
    run = _cbred(["run", path, "--out", store, "--quiet"])
    _wait(lambda: len(fi.shard_files(store, "stats")) >= 2, run)
    rows = []
    for args in (["report", store], ["evaluate", store], ["export", store, "--out", work / "s.parquet"],
                 ["export", store, "--partial", "--out", work / "p.parquet"]):
        code, out, err = _finish(_cbred(args), timeout=300)
        lines = _lines(err)
        rows.append({"command": "cbred " + " ".join(str(a).replace(str(work), "WORK") for a in args), "exit": code,
                     "stderr_lines": len(lines),
                     "last_line": (lines[-1][:300] if lines else "").replace(str(work), "WORK"),
                     "stdout": out.strip().replace(str(work), "WORK")[:300], "writer_still_running": run.poll() is None})
    _finish(run)
    return rows


NODE_STAGES = ("graphs", "stats", "halving", "clusters")
SECTIONS = {"node": "nodes", "signal": "signals", "disk": "disk_full", "damaged": "damaged", "readers": "readers"}
"""``--only`` names and the result's sections they measure."""


def _when(measured: dict) -> dict:
    return {key: measured.get(key) for key in ("command", "date", "git_commit")}


def _merged(path: Path, measured: dict, result: dict, sections: list[str]) -> dict:
    """The results file with ``sections`` measured now (and said so in ``measured``); the others as the file
    had them, each with the command, commit and date that measured it."""
    out = json.loads(path.read_text()) if path.is_file() else {}
    out["config"] = CONFIG
    out.setdefault("measured", {})
    if "command" in out:  # a file from one whole run: that run measured every section it holds
        whole = {key: out[key] for key in ("command", "date", "git_commit", "git_worktree", "machine", "wall_seconds")}
        for section in SECTIONS.values():
            if out.get(section):
                out["measured"].setdefault(section, whole)
    for section in sections:
        rows = result[section]
        if section == "nodes":  # the faults measured now replace theirs; the others are kept, with their date
            before = out["measured"].get(section, {})
            kept = [{**r, "measured": r.get("measured") or _when(before)} for r in out.get(section, [])
                    if r["fault"] not in {row["fault"] for row in rows}]
            rows = [*kept, *({**row, "measured": _when(measured)} for row in rows)]
        out[section], out["measured"][section] = rows, measured
    for key in ("command", "date", "git_commit", "git_worktree", "machine", "wall_seconds"):
        out.pop(key, None)  # a whole run's, from before the sections were measured apart
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--injections", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=list(SECTIONS), default=list(SECTIONS))
    parser.add_argument("--node-stages", nargs="*", choices=NODE_STAGES, default=list(NODE_STAGES),
                        help="the stages whose node loss --only node measures (the others' rows are kept)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = parser.parse_args()
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cbred-cf-work-"))
    result = {"nodes": [], "signals": [], "disk_full": [], "damaged": [], "readers": []}
    try:
        (work / "config.yaml").write_text(yaml.safe_dump(CONFIG))
        references = {}
        configs = [("run", CONFIG)] + ([("node", NODE), ("halving", HALVING), ("holders", HOLDERS)]
                                       if "node" in args.only else [])
        for name, config in configs:
            (work / f"{name}.yaml").write_text(yaml.safe_dump(config))
            references[name] = work / f"reference_{name}"
            code, _, err = _finish(_cbred(["run", work / f"{name}.yaml", "--out", references[name], "--quiet"]))
            assert code == 0, err
        if "node" in args.only:
            for stage, config, ref in (("graphs", NODE, "node"), ("stats", NODE, "node"), ("halving", HALVING, "halving"),
                                       ("clusters", HOLDERS, "holders")):
                if stage in args.node_stages:
                    result["nodes"].append(node_lost(work, "stats" if stage == "halving" else stage, config,
                                                     references[ref], args.injections))
        if "signal" in args.only:
            for signum, group in ((signal.SIGTERM, False), (signal.SIGTERM, True), (signal.SIGINT, False),
                                  (signal.SIGINT, True)):
                result["signals"].append(stopped(work, signum, group, references["run"], args.injections))
        if "disk" in args.only:
            result["disk_full"] = disk_full(work, references["run"], args.injections)
        if "damaged" in args.only:
            result["damaged"] = damaged(work, references["run"])
        if "readers" in args.only:
            result["readers"] = readers(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    folder = Path(args.out)
    measured = {"command": "python benchmarks/cluster_faults.py " + " ".join(sys.argv[1:]), **provenance(),
                "wall_seconds": round(time.perf_counter() - started, 1)}
    out = _merged(folder / "cluster_faults.json", measured, result, [SECTIONS[name] for name in args.only])
    (folder / "cluster_faults.json").write_text(json.dumps(out, indent=1) + "\n")
    write_table(folder)
    print(cluster_markdown(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
