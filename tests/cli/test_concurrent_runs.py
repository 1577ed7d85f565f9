"""Two drivers on one store: the second is refused while the first holds it, whatever its config.

Real processes: a `cbred run` of the tiny config holds the store; a second `cbred run` into the
same store, with another seed and then with the very same config, is refused with exit 2 naming
the holder, and the store ends as the first run alone makes it.
"""
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from cbred_ray.store.lock import LOCK_NAME

REPO = Path(__file__).resolve().parents[2]
TINY = REPO / "configs" / "nb201_tiny.yaml"


def _cbred(*args, **kwargs):
    return [sys.executable, "-m", "cbred_ray.cli", *map(str, args)]


def _lease(store):
    try:
        text = (store / LOCK_NAME).read_text()
        return json.loads(text) if text else {}
    except (OSError, json.JSONDecodeError):
        return {}


def test_a_second_driver_is_refused_while_the_first_holds_the_store(tmp_path):
    store = tmp_path / "store"
    other_seed = tmp_path / "seed4.yaml"
    other_seed.write_text(yaml.safe_dump({**yaml.safe_load(TINY.read_text()), "seed": 4}))
    first = subprocess.Popen(_cbred("run", TINY, "--out", store, "--quiet"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while _lease(store).get("pid") != first.pid and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _lease(store).get("pid") == first.pid, "the first run never held the store"

    for config in (other_seed, TINY):  # another config, then the same one
        second = subprocess.run(_cbred("run", config, "--out", store), capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        [line] = second.stderr.strip().splitlines()
        assert "in use by another cbred run" in line and f"pid {first.pid}" in line and "since" in line
        assert first.poll() is None, "the first run ended before the second was refused: nothing was tested"

    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["seed"] == 3 and manifest["status"] == "done" and len(manifest["sessions"]) == 1
    assert json.loads(out)["selected"] == len(pd.read_parquet(store / "selection"))
    assert _lease(store) == {}  # released
    again = subprocess.run(_cbred("run", TINY, "--out", store, "--quiet"), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr  # once released, the same config resumes (every stage reused)
