"""`cbred sample` and `cbred contains` on the stores of finished runs: seconds to draw N members, each checked.

    python benchmarks/region_draw.py --store seed0=STORE -n 10000 --seed 0 --work WORK \
        --out benchmarks/results/darts_region_draw.json

For each store, as a user runs them (a fresh process each, its start-up included):
``cbred sample STORE -n N --seed S --out WORK/NAME.txt`` (wall seconds, the candidates of the whole space it
drew, per member against 1 / the region's estimated share), then ``cbred contains STORE --file WORK/NAME.txt``
(wall seconds, how many of the drawn it says belong) and how many of the drawn are distinct. The store's
run, its kept cluster and the region's estimated share come from its manifest.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from provenance import provenance


def cbred(*args: str) -> tuple[subprocess.CompletedProcess, float]:
    """One `cbred` command in a fresh process: its result and wall seconds."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "cbred_ray.cli", *args], capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"cbred {args[0]} failed with exit code {proc.returncode}: {proc.stderr.strip()[-500:]}")
    return proc, seconds


def measure(name: str, store: Path, n: int, seed: int, work: Path) -> dict:
    manifest = json.loads((store / "manifest.json").read_text())
    selection = manifest["stages"]["selection"]
    if "region" not in selection:
        sys.exit(f"store {name!r} is not a run on a sample of its space: it has no region")
    share = selection["region"]["estimate"]["share"]
    drawn_file = work / f"{name}.txt"
    proc, sample_seconds = cbred("sample", str(store), "-n", str(n), "--seed", str(seed), "--out", str(drawn_file))
    candidates = int(re.search(r"from (\d+) candidates", proc.stderr).group(1))
    drawn = drawn_file.read_text().splitlines()
    proc, contains_seconds = cbred("contains", str(store), "--file", str(drawn_file))
    members = sum(json.loads(line)["member"] for line in proc.stdout.splitlines())
    return {"name": name, "run_seed": manifest["seed"], "config_hash": manifest["config_hash"],
            "kept_cluster": selection["cluster"], "region_share": share, "n": n, "seed": seed,
            "sample_seconds": round(sample_seconds, 2), "candidates": candidates,
            "candidates_per_member": round(candidates / len(drawn), 2), "one_over_share": round(1 / share, 2),
            "drawn": len(drawn), "distinct": len(set(drawn)), "members": members,
            "contains_seconds": round(contains_seconds, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", action="append", required=True, metavar="NAME=STORE",
                        help="a finished run's store on a sample of its space (repeatable)")
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", required=True, help="folder for the drawn identifiers")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for item in args.store:
        name, _, store = item.partition("=")
        if not store:
            sys.exit(f"--store must be NAME=STORE, got {item!r}")
        rows.append(measure(name, Path(store), args.n, args.seed, work))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    stores = " ".join(f"--store {r['name']}=STORE" for r in rows)
    Path(args.out).write_text(json.dumps({
        "command": f"python benchmarks/region_draw.py {stores} -n {args.n} --seed {args.seed} --work WORK "
                   f"--out {args.out}",
        **provenance(), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
