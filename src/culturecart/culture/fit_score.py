"""The cultural-fit score (DESIGN.md): how much of the best country-specific model's lift a model keeps.

For model ``m`` on country ``c``::

    CFS(m, c) = (AUC(m, c) - 0.5) / (AUC(best_c, c) - 0.5)

where ``best_c`` is the country-specific model (``local`` or ``finetune`` scope) with the highest
test AUC on ``c``; without country-specific models, the best of all compared models. CFS = 1: m does as
well on c as the best model built for c; CFS > 1: better (pooling helps); CFS < 1: the share it keeps.
Undefined (NaN) when the best model is no better than chance. The CI resamples the country's test
users (cluster bootstrap), recomputing both AUCs on each resample.

Example (the hand-computed case of the tests):
    >>> round(cultural_fit_score(0.8, 0.9), 6)
    0.75
"""

from __future__ import annotations

import numpy as np

from culturecart.evaluate.bootstrap import Interval, bootstrap_statistic
from culturecart.evaluate.metrics import get_metric_spec

COUNTRY_SPECIFIC = ("local", "finetune")


def cultural_fit_score(auc_model: float, auc_best: float) -> float:
    """(AUC(m) - 0.5) / (AUC(best) - 0.5); NaN when the best model is not above chance."""
    lift = auc_best - 0.5
    return float((auc_model - 0.5) / lift) if lift > 0 else float("nan")


def cultural_fit_interval(y: np.ndarray, p_model: np.ndarray, p_best: np.ndarray, clusters: np.ndarray | None,
                          n_boot: int = 500, seed: int = 0) -> Interval:
    """CFS with a cluster-bootstrap percentile CI (both AUCs recomputed on every resample)."""
    auc = get_metric_spec("roc_auc").fn
    y, p_model, p_best = np.asarray(y), np.asarray(p_model, float), np.asarray(p_best, float)

    def stat(idx: np.ndarray) -> float:
        yy = y[idx]
        if yy.min() == yy.max():
            return float("nan")
        return cultural_fit_score(auc(yy, p_model[idx], None), auc(yy, p_best[idx], None))

    return bootstrap_statistic(stat, len(y), clusters=clusters, n_boot=n_boot, seed=seed)
