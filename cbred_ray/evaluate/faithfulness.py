"""How well a statistic orders networks by accuracy, overall and among the good ones."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau


def tau_by_min_accuracy(stats: pd.DataFrame, accuracy: pd.Series, thresholds: Sequence[float]) -> pd.DataFrame:
    """Kendall τ of each statistic (column of ``stats``) against ``accuracy`` (same index), over the
    networks whose accuracy is at least each threshold: the paper's "good relational, poor
    pointwise information" curve. Rows: min_accuracy, statistic, tau (NaN below 3 networks), n."""
    rows = []
    for threshold in thresholds:
        kept = accuracy.index[accuracy.to_numpy() >= threshold]
        for name in stats.columns:
            both = pd.concat([stats.loc[kept, name], accuracy.loc[kept]], axis=1).dropna().to_numpy()
            tau = float(kendalltau(both[:, 0], both[:, 1]).statistic) if len(both) >= 3 else float("nan")
            rows.append({"min_accuracy": float(threshold), "statistic": name, "tau": tau, "n": int(len(both))})
    return pd.DataFrame(rows)


QUANTILES = (0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98, 0.99)


def default_thresholds(accuracy: pd.Series) -> np.ndarray:
    """Accuracy quantiles from the worst network to the best 1 %: the networks considered halve
    and then shrink to the top few hundred."""
    return np.quantile(accuracy.dropna().to_numpy(), QUANTILES)
