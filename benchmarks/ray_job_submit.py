"""Measure one `ray job submit` against a real Ray head: wall time and the store it produced.

    python benchmarks/ray_job_submit.py --config configs/nb201_cifar100.yaml \
        --out benchmarks/results/ray_job_submit.json

Starts a throwaway Ray head on this machine (`ray start --head --block` with the dashboard,
free ports, its own short temp dir, token authentication with a fresh token), submits
`jobs/reduce.py` with the `ray job submit` CLI, `--working-dir .` and the runtime_env of
`jobs/runtime_env.yaml` less its pip step (the head runs in this virtualenv, which has the
dependencies), waits for the job, checks that it SUCCEEDED, describes the store (rows per
stage, manifest status, config hash), stops the head and writes everything as JSON with the
command, the machine and the date. The wall time is that of the submit command (upload,
scheduling, the whole run, log tailing); starting and stopping the head are timed apart.

The head is stopped by signalling only the processes it started: `ray start` runs in a new
session, SIGTERM to it shuts its node down, and whatever is left of it is killed: the processes
of that session and those that carry the head's fresh token in their environment (a job's
entrypoint runs in a session of its own).
`ray stop` is never used (it stops every Ray on the machine). tests/jobs uses the same helpers.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import yaml
from provenance import provenance

REPO = Path(__file__).resolve().parents[1]
RUNTIME_ENV = REPO / "jobs" / "runtime_env.yaml"
STAGES = ("graphs", "clusters", "stats", "scores", "selection")
# Every port a head listens on, each given a free one so that this head meets no other Ray.
PORT_FLAGS = ("port", "dashboard-port", "ray-client-server-port", "node-manager-port", "object-manager-port",
              "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port",
              "metrics-export-port")
# Variables of the caller that would point the head or the CLI elsewhere.
FOREIGN_ENV = ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
               "RAY_JOB_HEADERS", "RAY_JOB_CONFIG_JSON_ENV_VAR")


def ray_cli() -> str | None:
    """The `ray` command of this interpreter's environment, else the one on PATH."""
    beside = Path(sys.executable).parent / "ray"
    return str(beside) if beside.is_file() else shutil.which("ray")


def dashboard_dependency_error() -> str | None:
    """Why Ray's dashboard cannot start here (a `ray` without `ray[default]`), or None."""
    try:
        from ray._private.utils import get_dashboard_dependency_error
    except ImportError:  # another Ray version: let `ray start` say it
        return None
    error = get_dashboard_dependency_error()
    return str(error) if error else None


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports: the sockets are held open together, so the system cannot hand one out twice."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def offline_runtime_env() -> dict:
    """jobs/runtime_env.yaml without its pip step, for a head that already has the dependencies."""
    env = yaml.safe_load(RUNTIME_ENV.read_text())
    env.pop("pip", None)
    return env


def _own_processes(sid: int, tag: bytes) -> list[int]:
    """Live processes in session ``sid`` (`ray start` and all it spawned in its session) or whose
    environment holds ``tag`` (the head's fresh token: what Ray starts in sessions of its own,
    such as a job's entrypoint, inherits it). No other process can hold either."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            if int(fields[3]) == sid or tag in Path(f"/proc/{entry}/environ").read_bytes():
                members.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return members


def _terminate_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it dies (Linux), so that a
    killed test run or benchmark does not leave its head behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocalHead:
    """A Ray head on this machine that only its owner talks to, and that stops without touching any other Ray.

    The environment of the head and of every CLI call is this process's, less the variables
    that name another cluster or token, with this virtualenv's bin/ first on PATH (so the
    job's `python` is this one) and token authentication with a fresh token. Nothing is
    set in this process's own environment.
    """

    def __init__(self, num_cpus: int = 2, start_timeout: float = 180.0):
        self.ray = ray_cli()
        if self.ray is None:
            raise FileNotFoundError("the `ray` command is not installed")
        self.num_cpus = num_cpus
        self.start_timeout = start_timeout
        self.ports = dict(zip(PORT_FLAGS, free_ports(len(PORT_FLAGS))))
        self.token = secrets.token_hex(32)
        self.temp_dir: str | None = None
        self.proc: subprocess.Popen | None = None
        env = {k: v for k, v in os.environ.items() if k not in FOREIGN_ENV}
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        self.env = {**env, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": self.token}

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.ports['dashboard-port']}"

    @property
    def log(self) -> Path:
        return Path(self.temp_dir) / "ray-start.log"

    def start(self) -> LocalHead:
        missing = dashboard_dependency_error()
        if missing:
            raise RuntimeError(f"Ray's dashboard, which serves `ray job submit`, cannot start ({missing}): "
                               "it needs `ray[default]` installed")
        # Ray's socket paths must stay under 107 characters: a short directory in /tmp.
        self.temp_dir = tempfile.mkdtemp(prefix="rj", dir="/tmp")
        command = [self.ray, "start", "--head", "--block", f"--num-cpus={self.num_cpus}",
                   "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--temp-dir={self.temp_dir}",
                   "--min-worker-port=0", "--max-worker-port=0", "--disable-usage-stats",
                   *(f"--{flag}={port}" for flag, port in self.ports.items())]
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=self.env, cwd=self.temp_dir, start_new_session=True,
                                         preexec_fn=_terminate_with_parent)
        deadline = time.monotonic() + self.start_timeout
        while not self._jobs_api_ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"`ray start --head` exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the job API of {self.address} did not answer in {self.start_timeout:.0f} s:\n"
                                   f"{self.log_tail()}")
            time.sleep(1.0)
        return self

    def _get(self, path: str) -> dict | list:
        request = urllib.request.Request(f"{self.address}{path}", headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def _jobs_api_ready(self) -> bool:
        try:
            self._get("/api/jobs/")
            return True
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def job_info(self, submission_id: str) -> dict:
        """The job's record from the head's job API (status, message, entrypoint, runtime_env, times)."""
        return self._get(f"/api/jobs/{submission_id}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def cli(self, *args: str, timeout: float = 120.0, cwd: Path = REPO) -> subprocess.CompletedProcess:
        """Run `ray ARGS` with this head's environment (its token), capturing its output."""
        return subprocess.run([self.ray, *args], cwd=cwd, env=self.env, capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def processes(self) -> list[int]:
        """The live processes this head started, `ray start` included (and any CLI call still running)."""
        if self.proc is None:
            return []
        return [pid for pid in _own_processes(self.proc.pid, f"RAY_AUTH_TOKEN={self.token}".encode())
                if pid != os.getpid()]

    def stop(self, grace: float = 15.0) -> list[int]:
        """Stop the head: SIGTERM to `ray start`, which shuts its node down; after ``grace`` seconds
        SIGKILL whatever is left of it (see :meth:`processes`). Returns the pids that had to be killed."""
        if self.proc is None:
            return []
        killed: list[int] = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        while self.processes() and time.monotonic() < deadline:
            self.proc.poll()  # reaps `ray start` once it has exited
            time.sleep(0.5)
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:  # SIGKILL takes a moment to land
            self.proc.poll()
            time.sleep(0.2)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        return killed

    def remove_temp_dir(self) -> None:
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalHead:
        try:
            return self.start()
        except BaseException:
            self.stop()
            self.remove_temp_dir()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
        self.remove_temp_dir()


def submit_command(address: str, config: str, store: str, submission_id: str) -> list[str]:
    """The `ray job submit` arguments (after `ray`) of one reduction, run from the repository root."""
    return ["job", "submit", "--address", address, "--submission-id", submission_id, "--working-dir", ".",
            "--runtime-env-json", json.dumps(offline_runtime_env()),
            "--", "python", "jobs/reduce.py", "--config", config, "--out", store]


def submit_reduce(head: LocalHead, config: str, store: Path, timeout: float = 600.0) -> dict:
    """Submit one reduction to ``head`` and wait for it (the CLI tails its logs until it ends).

    Returns the submission id, the CLI's exit code, its output, the job's record from the
    head's job API (its status) and the wall time of the submit command. On timeout the job
    is stopped."""
    submission_id = f"cbred-{secrets.token_hex(4)}"
    args = submit_command(head.address, config, str(store), submission_id)
    started = time.perf_counter()
    try:
        done = head.cli(*args, timeout=timeout)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as err:
        head.cli("job", "stop", "--address", head.address, submission_id, timeout=60)
        partial = [o.decode(errors="replace") if isinstance(o, bytes) else (o or "")
                   for o in (err.stdout, err.stderr)]
        code, output = None, f"timed out after {timeout:.0f} s\n" + "".join(partial)
    wall = time.perf_counter() - started
    try:
        info = head.job_info(submission_id)
    except (urllib.error.URLError, OSError, ValueError) as err:  # e.g. the submission never reached the head
        info = {"status": None, "message": f"no job record: {err}"}
    return {"submission_id": submission_id, "args": args, "returncode": code, "output": output,
            "status": info.get("status"), "message": info.get("message"), "info": info, "wall_seconds": wall}


def describe_store(store: Path) -> dict:
    """Manifest status, config hash, rows per stage as the manifest records them and as the Parquet files hold."""
    import pyarrow.parquet as pq

    manifest = json.loads((store / "manifest.json").read_text())
    on_disk = {stage: pq.read_table(store / stage).num_rows for stage in STAGES if (store / stage).is_dir()}
    return {"status": manifest["status"], "config_hash": manifest["config_hash"], "rows_manifest": manifest["rows"],
            "rows_on_disk": on_disk, "stage_seconds": {k: v["seconds"] for k, v in manifest["stages"].items()},
            "actors": manifest["stages"].get("stats", {}).get("actors"),
            "selected_cluster": manifest["stages"].get("selection", {}).get("cluster"),
            "wall_seconds_in_job": manifest.get("wall_seconds_last_run")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/nb201_cifar100.yaml", help="relative to the repository root")
    parser.add_argument("--out", required=True, help="JSON result file")
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2, help="CPUs the head advertises")
    args = parser.parse_args()

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    scratch = Path(tempfile.mkdtemp(prefix="cbred-job-"))
    store = scratch / "store"
    head = LocalHead(num_cpus=args.num_cpus)
    try:
        started = time.perf_counter()
        head.__enter__()
        head_start = time.perf_counter() - started
        submitted = submit_reduce(head, args.config, store)
        stopped = time.perf_counter()
        killed = head.stop()
        head_stop = time.perf_counter() - stopped
    finally:
        head.__exit__(None, None, None)
    if submitted["returncode"] != 0 or submitted["status"] != "SUCCEEDED":
        sys.stderr.write(submitted["output"][-4000:])
        sys.exit(f"the job did not succeed (exit code {submitted['returncode']}, status {submitted['status']})")
    description = describe_store(store)
    shutil.rmtree(scratch)

    placeholder = {str(store): "STORE", head.address: "http://127.0.0.1:DASHBOARD_PORT"}
    result = {
        "command": " ".join(["python", *sys.argv]),
        "ray_job_submit_command": shlex.join(["ray", *(placeholder.get(a, a) for a in submitted["args"])]),
        "head": f"ray start --head --block --num-cpus={args.num_cpus} --include-dashboard=true, free ports, "
                "its own temp dir, token authentication (RAY_AUTH_MODE=token), this virtualenv",
        **provenance(load_average_1_5_15min_at_start=load_at_start,
                     load_average_1_5_15min_at_end=[round(x, 2) for x in os.getloadavg()]),
        "versions": {"ray": _version("ray"), "torch": _version("torch")},
        "job_status": submitted["status"],
        "wall_seconds_submit": round(submitted["wall_seconds"], 1),
        "wall_seconds_head_start": round(head_start, 1),
        "wall_seconds_head_stop": round(head_stop, 1),
        "head_processes_killed_after_grace": len(killed),
        "store": {"path": "STORE", **description},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("job_status", "wall_seconds_submit", "wall_seconds_head_start")}))
    print(json.dumps(result["store"], indent=1))


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
