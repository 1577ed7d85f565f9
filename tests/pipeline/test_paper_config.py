"""The contract: `cbred run configs/nb201_cifar100_paper.yaml` makes the C-BRED (Q + C) selection
from the committed whole-space statistics."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd

from cbred_ray.config import load_config
from cbred_ray.spaces.cell import nb201

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "configs" / "nb201_cifar100_paper.yaml"


def test_the_paper_config_reads_the_committed_statistics_and_keeps_five_percent(tmp_path):
    config = load_config(CONFIG)
    stats = pd.read_parquet(config.stats.precomputed)
    assert len(stats) == nb201.SPACE_SIZE and set(config.stats.names) <= set(stats.columns)
    result = subprocess.run([sys.executable, "-m", "cbred_ray.cli", "run", str(CONFIG), "--out", str(tmp_path / "s"),
                             "--quiet"], capture_output=True, text=True, timeout=900, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["selected"] == math.ceil(0.05 * nb201.SPACE_SIZE)
    selection = pd.read_parquet(tmp_path / "s" / "selection")
    assert selection["arch_str"].map(nb201.parse).map(len).eq(nb201.NUM_EDGES).all()
    assert selection["cluster"].nunique() == 1
