"""A statistic that runs out of memory on a large batch is retried on a smaller one, and the
stored row says so.

The fault is real: in a subprocess, ``naswot_v2`` first asks torch for 256 MiB of working
memory per image with only 768 MiB of address space to spare (``RLIMIT_AS``, set around that
allocation alone), so torch's CPU allocator fails on 16, 8 and 4 images and succeeds on 2.
Nothing of torch is patched.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, sys
sys.path[:0] = [{tests!r}, {stats_tests!r}]
import numpy as np
import torch
from cbred_ray.stats import compute_stats, registry
from fault_injection import install_memory_hungry_naswot
from stats_helpers import MIXED, SMALL, batch16

original = registry.STATISTICS["naswot_v2"].fn
install_memory_hungry_naswot()
batch = batch16()
results = compute_stats(MIXED, ["naswot_v2", "params"], batch, seed=0, **SMALL)

from cbred_ray.pipeline.stats_actor import stats_table
from cbred_ray.spaces.cell import nb201
from cbred_ray.stats.engine import summarise_repeats
row = stats_table(nb201.SPACE, np.array([7]), np.array([7]), {{7: summarise_repeats([results], ["naswot_v2", "params"])}},
                  ("naswot_v2", "params"), False).to_pylist()[0]

torch.manual_seed(0)
from cbred_ray.spaces.cell.network import build_network
expected = original(build_network(MIXED, **SMALL), batch[:2])
try:
    with __import__("fault_injection").address_space_limit(768 * 2 ** 20):
        torch.empty(16 * 256 * 2 ** 20, dtype=torch.uint8)
    failure = None
except Exception as err:
    failure = f"{{type(err).__name__}}: {{err}}"
singular = compute_stats(["none"] * 6, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"]
import dataclasses
from fault_injection import memory_hungry
registry.STATISTICS["naswot_v2"] = dataclasses.replace(registry.STATISTICS["naswot_v2"],
                                                       fn=memory_hungry(original, per_image=2 ** 30))
nothing_fits = compute_stats(MIXED, ["naswot_v2"], batch, seed=0, **SMALL)["naswot_v2"]
print(json.dumps({{"results": results, "row": row, "expected": expected, "failure": failure, "singular": singular,
                  "nothing_fits": nothing_fits}}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="caps the address space through /proc and RLIMIT_AS")
def test_a_statistic_out_of_memory_on_a_large_batch_is_retried_on_a_smaller_one_and_recorded():
    script = SCRIPT.format(tests=str(TESTS), stats_tests=str(TESTS / "stats"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert "can't allocate memory" in out["failure"]  # the injected fault is torch's own allocation failure
    value, note = out["results"]["naswot_v2"]
    assert note == "computed on 2 of 16 images after CPU out of memory"
    assert value == pytest.approx(out["expected"], rel=1e-6)  # the statistic itself, on the 2 images that fit
    assert out["results"]["params"][1] is None  # the others are untouched
    assert out["row"]["naswot_v2"] == value and out["row"]["error"] == f"naswot_v2: {note}"
    # a cell whose statistic fails on the images that fit says both why and on how many
    assert out["singular"] == [None, "StatisticFailed: singular NASWOT kernel (on 2 of 16 images after CPU out of memory)"]
    # when not even 2 images fit, the statistic is null and says so
    assert out["nothing_fits"] == [None, "CPU out of memory on 2 of 16 images"]
