"""The obvious alternative to sampled cluster scoring: a regressor on graph features.

Trained on the statistics of the architectures that were measured, it predicts the rank
ensemble of every architecture from its graph features; the best-predicted ones are kept
(a quantile of the predictions). Pure: features and measured ranks in, predictions out.

The seed reaches only gradient boosting's random part, its early-stopping split, which it makes above
10,000 training rows. Trained on fewer measured architectures, the model is the same for every seed
(every committed budget run measured at most 5,000).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor


def predicted_rank(features: pd.DataFrame, target: pd.Series, seed: int) -> pd.Series:
    """Predictions for every row of ``features`` of ``target`` (given for some of its rows), by gradient boosting."""
    known = target.dropna()
    model = HistGradientBoostingRegressor(random_state=seed)
    model.fit(features.loc[known.index].to_numpy(dtype=np.float64), known.to_numpy())
    return pd.Series(model.predict(features.to_numpy(dtype=np.float64)), index=features.index)
