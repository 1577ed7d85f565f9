"""What the cell5 end-to-end benchmark resumes: only seeds whose recorded config hash this code still gives."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from cell5_end_to_end import finished_runs, seed_config_hash  # noqa: E402

from cbred_ray.config import load_config  # noqa: E402

CONFIG = yaml.safe_load((ROOT / "configs" / "cell5_full.yaml").read_text())


def test_the_hash_is_the_one_a_run_of_the_written_seed_config_records(tmp_path):
    path = tmp_path / "seed3.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "seed": 3}))
    assert seed_config_hash(CONFIG, 3) == load_config(path).hash()
    assert seed_config_hash(CONFIG, 3) != seed_config_hash(CONFIG, 4)


def test_a_seed_without_its_current_hash_is_run_again():
    runs = [{"seed": 0, "config_hash": seed_config_hash(CONFIG, 0)},
            {"seed": 1, "config_hash": "0123456789abcdef"},  # measured under another scheme or code
            {"seed": 2}]                                       # recorded before hashes were
    previous = {"config": CONFIG, "runs": runs}
    assert list(finished_runs(previous, CONFIG)) == [0]
    assert finished_runs(previous, {**CONFIG, "name": "another"}) == {}
    assert finished_runs({}, CONFIG) == {}
