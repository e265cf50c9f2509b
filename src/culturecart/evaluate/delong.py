"""DeLong's test for two correlated ROC AUCs on the same rows.

DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837-845, with the fast O(n log n) midrank
algorithm of Sun & Xu (2014), IEEE Signal Processing Letters 21:1389-1393.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 400)
    >>> strong, weak = y + rng.normal(0, 1, 400), y + rng.normal(0, 3, 400)
    >>> delong_test(y, strong, weak).p_value < 0.01
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.stats import rankdata


@dataclass(frozen=True)
class DeLongResult:
    auc_a: float
    auc_b: float
    delta: float  # auc_a - auc_b
    se: float
    z: float
    p_value: float  # two-sided
    ci_low: float
    ci_high: float


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the mean of their positions (Sun & Xu 2014's midranks)."""
    return rankdata(x, method="average")


def auc_structural_components(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AUCs (k,), and the positive/negative structural components V10 (k, m), V01 (k, n)."""
    y = np.asarray(y).astype(bool)
    scores = np.atleast_2d(np.asarray(scores, dtype=float))
    pos, neg = scores[:, y], scores[:, ~y]
    m, n = pos.shape[1], neg.shape[1]
    if m == 0 or n == 0:
        raise ValueError("DeLong needs both classes")
    k = scores.shape[0]
    tx, ty, tz = np.empty((k, m)), np.empty((k, n)), np.empty((k, m + n))
    for r in range(k):
        tx[r] = _midranks(pos[r])
        ty[r] = _midranks(neg[r])
        tz[r] = _midranks(np.concatenate([pos[r], neg[r]]))
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1.0) / (2.0 * n)
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    return aucs, v10, v01


def delong_covariance(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix for k score vectors on the same rows."""
    aucs, v10, v01 = auc_structural_components(y, scores)
    m, n = v10.shape[1], v01.shape[1]
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return aucs, s10 / m + s01 / n


def delong_test(y: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray, alpha: float = 0.05) -> DeLongResult:
    """Two-sided test of AUC(a) = AUC(b), with the (1 - alpha) normal CI of the difference."""
    aucs, cov = delong_covariance(y, np.vstack([scores_a, scores_b]))
    delta = float(aucs[0] - aucs[1])
    var = float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1])
    se = float(np.sqrt(max(var, 0.0)))
    if se == 0.0:
        z, p = 0.0, 1.0
    else:
        z = delta / se
        p = float(2 * stats.norm.sf(abs(z)))
    q = stats.norm.ppf(1 - alpha / 2)
    return DeLongResult(float(aucs[0]), float(aucs[1]), delta, se, float(z), p, delta - q * se, delta + q * se)
