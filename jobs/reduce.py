"""Entrypoint for ``ray job submit``: run one reduction from a config into a store.

    ray job submit --address http://HEAD:8265 --working-dir . -- \
        python jobs/reduce.py --config configs/nb201_cifar100.yaml --out /shared/stores/nb201

Inside a submitted job RAY_ADDRESS points at the cluster, so the pipeline joins
it instead of starting an embedded Ray. The store must be on storage that every
node can write (a shared filesystem), since workers write their shards directly.
``--working-dir .`` ships the repository: the job runs in an unpacked copy of it, so
the package is imported from that copy (the path below) and a relative ``--out``
would land in that temporary copy: inside a job it is refused (exit code 2). Nodes
without the project's dependencies need ``--runtime-env jobs/runtime_env.yaml``.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cbred_ray.cli import main  # noqa: E402

# Set by Ray's job supervisor for the entrypoint of a submitted job.
IN_SUBMITTED_JOB = "RAY_JOB_CONFIG_JSON_ENV_VAR"

if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="YAML run config, relative to the working directory")
    parser.add_argument("--out", required=True, help="absolute store directory on storage every node can write")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one config value (repeatable), as in cbred run")
    parser.add_argument("--quiet", action="store_true", help="only warnings and errors")
    args = parser.parse_args()
    if IN_SUBMITTED_JOB in os.environ and not Path(args.out).is_absolute():
        print(f"cbred: error: --out {args.out!r} is relative: in a submitted job it would land in the job's temporary "
              "copy of the working directory; give an absolute path on storage every node can write",
              file=sys.stderr)
        sys.exit(2)
    overrides = [word for value in args.set for word in ("--set", value)]
    sys.exit(main(["run", args.config, "--out", args.out, *overrides, *(["--quiet"] if args.quiet else [])]))
