"""RQ3 / RQ5 statistics for rankers scored per user: intervals, paired tests, the gain matrix and its link to culture.

* :func:`mean_interval`: mean of a per-user metric with a user-bootstrap percentile CI (users are the unit: every
  held-out list belongs to one user).
* :func:`paired_test`: Wilcoxon signed-rank test of two rankers' per-user metric on the same users, with the
  bootstrap CI of the mean difference.
* :func:`chance_ndcg`: nDCG@k of a random order of each user's candidate list (the "no skill" level the
  cultural-fit score subtracts, as 0.5 is for AUC).
* :func:`mantel_test`: correlation of a source x target matrix (the gain of adding a source) with a distance
  matrix (Hofstede), with a permutation p-value that relabels the markets (Mantel 1967): pairs sharing a market are
  not independent, so the usual correlation test does not apply. Exact over every permutation up to 8 markets,
  otherwise ``n_perm`` random ones; a partial correlation controls for the source's training size.

Example:
    >>> import numpy as np
    >>> iv = mean_interval(np.array([0.0, 1.0, 1.0, 0.0]), n_boot=200)
    >>> iv.estimate, iv.low <= 0.5 <= iv.high
    (0.5, True)
    >>> round(chance_ndcg([100], 10), 4)
    0.0454
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, wilcoxon

from culturecart.evaluate.bootstrap import Interval, bootstrap_statistic

EXACT_MARKETS = 8  # 8! = 40,320 permutations: exact up to here


def mean_interval(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> Interval:
    """The mean of per-user values with a user-bootstrap percentile 95% CI."""
    values = np.asarray(values, float)
    if not len(values):
        return Interval(float("nan"), float("nan"), float("nan"), n_boot)
    return bootstrap_statistic(lambda i: float(values[i].mean()), len(values), n_boot=n_boot, seed=seed)


def paired_test(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[Interval, float]:
    """Mean of ``a - b`` over the same users with its bootstrap CI, and the Wilcoxon signed-rank p-value
    (two-sided; 1.0 when every difference is zero)."""
    diff = np.asarray(a, float) - np.asarray(b, float)
    interval = mean_interval(diff, n_boot, seed)
    p = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    return interval, p


def chance_ndcg(list_lengths: Sequence[int], k: int = 10) -> float:
    """Expected nDCG@k of one relevant item placed uniformly at random in lists of these lengths (mean over lists)."""
    gains = 1.0 / np.log2(np.arange(2, k + 2))
    return float(np.mean([gains[:min(k, n)].sum() / n for n in list_lengths])) if len(list_lengths) else float("nan")


def _pairs(gain: pd.DataFrame) -> list[tuple[str, str]]:
    return [(t, s) for t in gain.index for s in gain.columns if t != s and np.isfinite(gain.loc[t, s])]


def mantel_test(gain: pd.DataFrame, distance: pd.DataFrame, size: pd.Series | None = None, n_perm: int = 9999,
                seed: int = 0) -> dict:
    """Pearson r of ``gain`` (rows target, columns source) with ``distance`` over the off-diagonal pairs, and its
    permutation p-value; with ``size`` (training rows per market) also the partial r given log source size.

    Markets without a finite distance to another are left out of the permutations (they have no profile).
    """
    names = [m for m in gain.index if distance.loc[m, [o for o in gain.index if o != m]].notna().all()]
    gain = gain.loc[names, names]
    pairs = _pairs(gain)
    g = np.array([gain.loc[t, s] for t, s in pairs])
    z = np.log(np.array([size[s] for _, s in pairs], float)) if size is not None else None
    out = {"markets": len(names), "pairs": len(pairs)}
    if len(names) < 3 or len(pairs) < 4:  # markets without countries have no distance: nothing to permute
        return {**out, "r": float("nan"), "p": float("nan"), "partial_r": float("nan"), "partial_p": float("nan"),
                "permutations": 0}
    d_full = distance.loc[names, names].to_numpy(float)
    index = {m: i for i, m in enumerate(names)}
    ti = np.array([index[t] for t, _ in pairs])
    si = np.array([index[s] for _, s in pairs])

    def resid(v: np.ndarray) -> np.ndarray:
        return v - np.polyval(np.polyfit(z, v, 1), z)

    g_res = resid(g) if z is not None else None

    def stats(perm: np.ndarray) -> tuple[float, float]:
        d = d_full[perm[ti], perm[si]]
        r = pearsonr(g, d).statistic
        partial = pearsonr(g_res, resid(d)).statistic if z is not None else np.nan
        return float(r), float(partial)

    r, partial = stats(np.arange(len(names)))
    if len(names) <= EXACT_MARKETS:
        perms = [np.array(p) for p in itertools.permutations(range(len(names)))]
    else:
        rng = np.random.default_rng(seed)
        perms = [np.arange(len(names))] + [rng.permutation(len(names)) for _ in range(n_perm)]
    values = np.array([stats(p) for p in perms])
    p_r = float(np.mean(np.abs(values[:, 0]) >= abs(r) - 1e-12))
    p_partial = float(np.mean(np.abs(values[:, 1]) >= abs(partial) - 1e-12)) if z is not None else float("nan")
    return {**out, "r": r, "p": p_r, "partial_r": partial, "partial_p": p_partial, "permutations": len(perms),
            "exact": len(names) <= EXACT_MARKETS, "n_perm_max": math.factorial(len(names))}
