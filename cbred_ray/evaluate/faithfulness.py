"""How well a statistic orders networks by accuracy, overall and among the good ones."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau


def tau_by_min_accuracy(stats: pd.DataFrame, accuracy: pd.Series, thresholds: Sequence[float],
                        bootstrap: int = 50, seed: int = 0) -> pd.DataFrame:
    """Kendall τ of each statistic (column of ``stats``) against ``accuracy`` (same index), over the
    networks whose accuracy is at least each threshold: the paper's "good relational, poor
    pointwise information" curve. Rows: min_accuracy, statistic, tau (NaN below 3 networks), n, and
    tau_low, tau_high: a 95 % interval over ``bootstrap`` resamplings of those networks (seeded; none with 0)."""
    rng = np.random.default_rng(seed)
    rows = []
    for threshold in thresholds:
        kept = accuracy.index[accuracy.to_numpy() >= threshold]
        for name in stats.columns:
            both = pd.concat([stats.loc[kept, name], accuracy.loc[kept]], axis=1).dropna().to_numpy()
            row = {"min_accuracy": float(threshold), "statistic": name, "tau": float("nan"), "n": int(len(both)),
                   "tau_low": float("nan"), "tau_high": float("nan")}
            if len(both) >= 3:
                row["tau"] = float(kendalltau(both[:, 0], both[:, 1]).statistic)
                if bootstrap > 0:
                    draws = [kendalltau(*both[rng.integers(len(both), size=len(both))].T).statistic
                             for _ in range(bootstrap)]
                    row["tau_low"], row["tau_high"] = (float(v) for v in np.nanpercentile(draws, [2.5, 97.5]))
            rows.append(row)
    return pd.DataFrame(rows)


QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99)


def default_thresholds(accuracy: pd.Series) -> np.ndarray:
    """Accuracy quantiles from the worst network to the best 1 %: the networks considered halve
    and then shrink to the top few hundred."""
    return np.quantile(accuracy.dropna().to_numpy(), QUANTILES)
