"""The subsets the NB201 configs (and the 5-node sampled one) choose, as digests, to hold them fixed across
changes of the code.

    python benchmarks/nb201_selections.py --work WORK --out benchmarks/results/nb201_selections.json \
        [--reference OLD.json] [--only quick halving paper cell5_1m nb101]

Runs `cbred run` of the quick, halving and paper configs into fresh stores under WORK and records, per
config, the selection's size, its cluster and the sha256 of its sorted arch strings (and of the
statistics it computed). With ``--reference`` (a result file of an earlier commit), says for each config
whether the subset is exactly the one chosen then. ``--stores NAME=STORE`` digests existing stores
instead of running (an earlier commit's, for the reference).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from provenance import provenance

CONFIGS = {"quick": "configs/nb201_cifar100.yaml", "halving": "configs/nb201_cifar100_halving.yaml",
           "paper": "configs/nb201_cifar100_paper.yaml", "cell5_1m": "configs/cell5_1m.yaml",
           "nb101": "configs/nb101_cifar10.yaml"}
DEFAULT = ("quick", "halving", "paper")
"""The configs run unless ``--only`` names others (``cell5_1m`` takes about 17 minutes on two cores, ``nb101``
about 6)."""


def digest(store: Path) -> dict:
    selection = pd.read_parquet(store / "selection")
    stats = pd.read_parquet(store / "stats").sort_values("arch_index")
    names = [c for c in ("naswot_v2", "logsynflow", "ntk_cond", "params", "macs") if c in stats.columns]
    key = next(c for c in ("arch_str", "hash", "arch") if c in selection.columns)  # the space's identifier
    out = {"size": int(len(selection)), "cluster": int(selection["cluster"].iloc[0]),
           "selection_sha256": hashlib.sha256("\n".join(sorted(selection[key])).encode()).hexdigest(),
           "stats_rows": int(len(stats)),
           "stats_sha256": hashlib.sha256(stats[[key, *names]].to_csv(index=False).encode()).hexdigest()}
    region = json.loads((store / "manifest.json").read_text())["stages"]["selection"].get("region")
    if region is not None:  # a run on a sample of its space: the region it stored, and its share of the space
        out["region"] = {"kept": region["kept"], "agreement": region["agreement"], **{
            k: region["estimate"][k] for k in ("share", "share_low", "share_high", "sample")}}
    return out


def portable(argument: str) -> str:
    """An argument as a result file records it: an absolute path as PATH, a NAME=PATH pair as NAME=STORE."""
    name, _, value = argument.rpartition("=")
    if value.startswith("/"):
        return f"{name}=STORE" if name else "PATH"
    return argument


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default=None)
    parser.add_argument("--stores", nargs="*", default=[], help="NAME=STORE pairs to digest instead of running")
    parser.add_argument("--reference", default=None)
    parser.add_argument("--out", required=True)
    parser.add_argument("--only", nargs="*", default=list(DEFAULT), choices=list(CONFIGS))
    args = parser.parse_args()
    stores = dict(pair.split("=", 1) for pair in args.stores)
    results = {}
    for name, config in ((n, CONFIGS[n]) for n in args.only):
        store = Path(stores[name]) if name in stores else Path(args.work) / name
        if name not in stores:
            subprocess.run([sys.executable, "-m", "cbred_ray.cli", "run", config, "--out", str(store), "--quiet"],
                           check=True, stdout=subprocess.DEVNULL)
        results[name] = {"config": config, **digest(store)}
    recorded = [f"{a.split('=', 1)[0]}=STORE" if a in args.stores else portable(a) for a in sys.argv[1:]]
    out = {"command": "python benchmarks/nb201_selections.py " + " ".join(recorded),
           **provenance(), "configs": results}
    if args.reference:
        reference = json.loads(Path(args.reference).read_text())
        out["reference_commit"] = reference["git_commit"]
        known = reference["configs"]  # what the reference recorded of each config: those fields compared
        out["same_as_reference"] = {name: all(results[name].get(k) == v for k, v in known[name].items())
                                    if name in known else None for name in results}
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(json.dumps(out.get("same_as_reference", results), indent=1))


if __name__ == "__main__":
    main()
