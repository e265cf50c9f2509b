"""Per-country sensitivities against Hofstede's dimensions: correlations, permutation tests, literature verdicts.

With a handful of countries every correlation is uncertain: permutation p-values are exact (all
orderings) up to 8 countries and Monte Carlo above; a verdict is ``agree`` / ``disagree`` only when the
permutation p is below ``alpha`` and the sign matches / opposes the expectation, ``inconclusive``
otherwise. Report the number of countries beside every figure.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from culturecart.culture.literature import literature_table
from culturecart.data.hofstede import DIMENSIONS

EXACT_MAX = 8


@functools.lru_cache(maxsize=EXACT_MAX + 1)
def all_orderings(n: int) -> np.ndarray:
    """Every permutation of ``range(n)`` (read-only, shared: built once per size)."""
    perms = np.array(list(itertools.permutations(range(n))))
    perms.setflags(write=False)
    return perms


def permutation_spearman(x: np.ndarray, y: np.ndarray, n_perm: int = 20000, seed: int = 0) -> tuple[float, float]:
    """Spearman's rho and its two-sided permutation p-value (exact for <= 8 points).

    Example:
        >>> rho, p = permutation_spearman(np.arange(6), np.arange(6))
        >>> rho, round(p, 4)  # 2 of 720 orderings are as extreme
        (1.0, 0.0028)
    """
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    denom = math.sqrt(float((rx ** 2).sum() * (ry ** 2).sum()))
    if denom == 0:
        return float("nan"), float("nan")
    rho = float(rx @ ry / denom)
    n = len(rx)
    if n <= EXACT_MAX:
        perms = all_orderings(n)
    else:
        rng = np.random.default_rng(seed)
        perms = np.array([rng.permutation(n) for _ in range(n_perm)])
    null = ry[perms] @ rx / denom
    p = float(np.mean(np.abs(null) >= abs(rho) - 1e-12))
    return rho, p


def hofstede_correlations(sensitivity: pd.DataFrame, profiles: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Spearman rho (permutation p) of each feature's per-country value with each dimension.

    ``sensitivity``: rows = countries, columns = features (e.g. logit coefficients).
    """
    countries = [c for c in sensitivity.index if c in profiles.index]
    rows = []
    for feature in sensitivity.columns:
        values = sensitivity.loc[countries, feature].astype(float)
        ok = values.notna().to_numpy()
        for dim in DIMENSIONS:
            scores = profiles.loc[countries, dim].astype(float).to_numpy()
            good = ok & np.isfinite(scores)
            rho, p = (permutation_spearman(values.to_numpy()[good], scores[good], seed=seed)
                      if good.sum() >= 3 else (np.nan, np.nan))
            rows.append({"feature": feature, "dimension": dim, "rho": rho, "p_value": p, "n_countries": int(good.sum())})
    return pd.DataFrame(rows)


def literature_verdicts(correlations: pd.DataFrame, alpha: float = 0.1,
                        literature: pd.DataFrame | None = None) -> pd.DataFrame:
    """Join the prior findings with the observed correlations and mark agree / disagree / inconclusive.

    Correlations should be on sensitivities oriented so that larger means more sensitive
    (:func:`~culturecart.culture.sensitivity.sensitivity_matrix` does that).
    """
    lit = literature_table() if literature is None else literature
    merged = lit.merge(correlations, on=["feature", "dimension"], how="left")
    same = np.sign(merged["rho"]) == merged["expected_sign"]
    significant = merged["p_value"] < alpha
    merged["direction_matches"] = np.where(merged["rho"].notna(), same, np.nan)
    merged["verdict"] = np.select([merged["rho"].isna(), significant & same, significant & ~same],
                                  ["not estimated", "agree", "disagree"], "inconclusive")
    return merged


def alignment_scores(sensitivity: pd.DataFrame, profiles: pd.DataFrame,
                     literature: pd.DataFrame | None = None) -> pd.Series:
    """Per country: Spearman between the relative sensitivities a model implies and those the literature expects.

    Implied: log |value| minus its mean over the countries, per feature (how much more or less sensitive
    than the average country). Expected: sum over the feature's literature rows of sign x (score - 50) / 25,
    centred over the countries the same way. Features without a literature row are left out; NaN for a
    country with fewer than three comparable features.
    """
    lit = literature_table() if literature is None else literature
    feats = [f for f in sensitivity.columns if f in set(lit["feature"])]
    countries = [c for c in sensitivity.index if c in profiles.index]
    if not feats:  # no feature prior research speaks of: nothing to align with
        return pd.Series(np.nan, index=countries, name="alignment", dtype=float)
    log_mag = np.log(sensitivity.loc[countries, feats].abs().astype(float).replace(0, np.nan))
    relative = log_mag - log_mag.mean()
    z = (profiles.loc[countries, list(DIMENSIONS)].astype(float) - 50.0) / 25.0
    expected = pd.DataFrame({f: sum((row.expected_sign * z[row.dimension]
                                     for row in lit[lit["feature"] == f].itertuples()), start=0.0) for f in feats})
    expected = expected - expected.mean()
    out = {}
    for c in countries:
        a, b = relative.loc[c].to_numpy(float), expected.loc[c].to_numpy(float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
            out[c] = np.nan
            continue
        ra, rb = rankdata(a[ok]), rankdata(b[ok])
        out[c] = float(np.corrcoef(ra, rb)[0, 1])
    return pd.Series(out, name="alignment")
