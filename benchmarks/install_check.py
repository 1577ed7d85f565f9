"""Which torch the README's CPU install takes, on a machine that reaches the PyTorch CPU wheel page
and on one that does not.

    python benchmarks/install_check.py --cpu-wheel torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl \
        --out benchmarks/results/install_check.json

Each case asks pip what it would install for the torch requirement of ``requirements-cpu.txt``
(``pip install --dry-run --report``, nothing installed), in isolated mode (no pip configuration
of this machine) against PyPI:

* ``cpu_page_reachable``: the file's ``--find-links`` page replaced by a folder holding the given
  ``torch 2.13.0+cpu`` wheel, the file the PyTorch CPU page serves;
* ``cpu_page_unreachable``: the page replaced by an empty folder (an ordinary machine whose
  network does not reach download.pytorch.org);
* ``as_configured`` (with ``--as-configured``): the file as it is, with this machine's own pip
  configuration, and the seconds it took; ``as_configured_retries_0`` the same with
  ``--retries 0`` (pip asks the unreachable page once per package, retrying 5 times by default).

Recorded for each: the torch version pip picks, and the NVIDIA packages it would pull with it.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import provenance

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements-cpu.txt"


def torch_lines(find_links: str | None) -> str:
    """The requirements file's options and torch pin, its find-links page replaced by ``find_links``."""
    kept = []
    for line in REQUIREMENTS.read_text().splitlines():
        if line.startswith("--find-links") and find_links is not None:
            kept.append(f"--find-links {find_links}")
        elif line.startswith(("--", "torch")):
            kept.append(line)
    return "\n".join(kept) + "\n"


def resolve(requirements: str, isolated: bool, work: Path, options: tuple[str, ...] = ()) -> dict:
    req, report = work / "requirements.txt", work / "report.json"
    req.write_text(requirements)
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
               str(report), "-r", str(req), *options] + (["--isolated"] if isolated else [])
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        return {"returncode": proc.returncode, "error": proc.stderr.strip().splitlines()[-1:], "seconds": seconds}
    installs = json.loads(report.read_text())["install"]
    names = {item["metadata"]["name"].lower(): item["metadata"]["version"] for item in installs}
    nvidia = sorted(n for n in names if n.startswith("nvidia-"))
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line]
    return {"returncode": 0, "torch": names.get("torch"), "cpu_build": (names.get("torch") or "").endswith("+cpu"),
            "nvidia_packages": nvidia, "packages": len(names), "seconds": round(seconds, 1),
            "warnings": len(warnings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-wheel", required=True, help="a torch 2.13.0+cpu wheel (what the CPU page serves)")
    parser.add_argument("--as-configured", action="store_true", help="also resolve the file as it is, with this "
                        "machine's pip configuration")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    wheel = Path(args.cpu_wheel)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work, page, empty = Path(tmp), Path(tmp) / "page", Path(tmp) / "empty"
        page.mkdir()
        empty.mkdir()
        shutil.copy(wheel, page / wheel.name)
        results["cpu_page_reachable"] = resolve(torch_lines(str(page)), True, work)
        results["cpu_page_unreachable"] = resolve(torch_lines(str(empty)), True, work)
        if args.as_configured:
            results["as_configured"] = resolve(torch_lines(None), False, work)
            results["as_configured_retries_0"] = resolve(torch_lines(None), False, work, ("--retries", "0"))
    out = {"command": "python benchmarks/install_check.py --cpu-wheel " + wheel.name
                      + (" --as-configured" if args.as_configured else "") + f" --out {args.out}",
           **provenance(), "requirements": torch_lines(None).splitlines(), "cases": results}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
