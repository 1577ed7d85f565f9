"""What a change of the code moved in the shipped configs' reduced spaces: each result before (at a commit) and now.

    python benchmarks/selection_moves.py --before REV --out benchmarks/results/seed_scheme_moves \\
        benchmarks/results/nb201_quick.json benchmarks/results/nb101_cifar10_selection.parquet ...

For each ``benchmarks/run_reduction.py`` result file: the reduced space's size, its cluster(s), the
statistics measured, halving's rounds, the wall time, and for each dataset the subset's mean accuracy and
top-1 % recall, as the file held them at ``REV`` (``git show REV:FILE``) and as it holds them now. For a
selection file (Parquet of identifiers): how many identifiers the two share. Writes OUT.json and OUT.md.
"""
from __future__ import annotations

import argparse
import io
import json
import subprocess
from pathlib import Path

import pandas as pd
from provenance import provenance


def at_commit(rev: str, path: str) -> bytes | None:
    """The file's bytes at commit ``rev``, or None where it did not exist."""
    done = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True)
    return done.stdout if done.returncode == 0 else None


def summary(result: dict) -> dict:
    """What a run_reduction result says of its reduced space."""
    stage = result.get("selection_stage", {})
    out = {"selected": result["run_output"].get("selected"), "cluster": result["run_output"].get("cluster"),
           "clusters": stage.get("clusters"), "measured": result.get("measured_architectures"),
           "rounds": (result.get("stats_stage", {}).get("halving") or {}).get("rounds"),
           "wall_seconds": result.get("wall_seconds"), "git_commit": result.get("git_commit")}
    out["rounds"] = len(out["rounds"]) if isinstance(out["rounds"], list) else out["rounds"]
    for name, data in (result.get("evaluation") or {}).get("datasets", {}).items():
        out[f"{name}_mean"] = data.get("subset_mean")
        out[f"{name}_top1_recall"] = data.get("top1_recall")
    return out


def compare(path: str, rev: str) -> dict:
    before = at_commit(rev, path)
    if path.endswith(".parquet"):
        now = pd.read_parquet(path)
        column = now.columns[0]
        old = pd.read_parquet(io.BytesIO(before))[column] if before is not None else pd.Series(dtype=str)
        shared = len(set(old) & set(now[column]))
        return {"file": path, "kind": "selection", "before": int(len(old)), "now": int(len(now)), "shared": shared,
                "same": shared == len(old) == len(now)}
    now = summary(json.loads(Path(path).read_text()))
    old = summary(json.loads(before)) if before is not None else {}
    return {"file": path, "kind": "run", "before": old, "now": now}


def markdown(rows: list[dict], rev: str, command: str, prov: dict) -> str:
    lines = [f"# What moved since {rev[:10]}", "", f"`{command}`", "",
             f"{prov['date']}, commit {prov['git_commit']}.", ""]
    for row in rows:
        if row["kind"] == "selection":
            lines.append(f"- `{row['file']}`: {row['before']} identifiers before, {row['now']} now, {row['shared']} "
                         f"shared ({'the same selection' if row['same'] else 'moved'}).")
            continue
        lines += ["", f"## `{row['file']}`", "", "| | before | now |", "|---|---|---|"]
        for key in row["now"]:
            if key == "git_commit":
                continue
            lines.append(f"| {key} | {row['before'].get(key, '–')} | {row['now'][key]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit the results are compared with")
    parser.add_argument("--out", required=True, help="path without suffix: writes OUT.json and OUT.md")
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    rev = subprocess.run(["git", "rev-parse", args.before], capture_output=True, text=True, check=True).stdout.strip()
    rows = [compare(path, rev) for path in args.files]
    command = f"python benchmarks/selection_moves.py --before {rev[:10]} --out {args.out} " + " ".join(args.files)
    prov = provenance()
    Path(args.out).with_suffix(".json").write_text(json.dumps({"command": command, **prov, "before": rev,
                                                               "results": rows}, indent=1) + "\n")
    Path(args.out).with_suffix(".md").write_text(markdown(rows, rev, command, prov))
    print(markdown(rows, rev, command, prov))


if __name__ == "__main__":
    main()
