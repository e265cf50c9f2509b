"""Within-feature, across-country recovery: does the study order the countries by their sensitivity to a feature
as the planted (or any reference) sensitivities do? Per feature, with a bootstrap interval over users.

RQ4 asks which *countries* are more sensitive to a feature, so the headline is, per feature, Spearman's rho
across countries between the estimated and the reference slopes (pooling every feature would mostly measure
whether the features' base effects are told apart). Reference values that tie (countries with equal Hofstede
scores get equal planted sensitivities) take their mid-rank; since an estimate almost never ties, the
highest rho attainable is then below 1 and is reported beside each value (``max_attainable``: the rho of the
reference with a tie-free ranking that agrees with it everywhere else).

The interval resamples users within each country (a cluster bootstrap) with the one-step estimator of the
country-interaction logit: each resample moves the fitted coefficients by one Newton step on the resampled
users' scores and information (Moulton & Zeger 1991, Computational Statistics & Data Analysis 11:53-63), exact
to first order and cheap, because the logit's parameters are separate per country.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from culturecart.culture.sensitivity import SensitivityDesign, SensitivityResult
from culturecart.evaluate.bootstrap import interval

PLANTED_NAMES = {"image_index": "image_appeal", "review_index": "review_quality"}  # the simulator's names


def planted_sensitivities(truth: dict, countries, features) -> pd.DataFrame:
    """Countries x features of a simulation's planted slopes (``truth.json``); a feature the simulator did not
    plant is left out. The image and review indices are scored against the planted image appeal and review
    quality sensitivities: their scale is arbitrary, their order across countries is what counts."""
    planted = {c: truth["countries"][c]["sensitivity"] for c in countries if c in truth.get("countries", {})}
    cols = [f for f in features if all(PLANTED_NAMES.get(f, f) in s for s in planted.values())]
    return pd.DataFrame({f: {c: float(s[PLANTED_NAMES.get(f, f)]) for c, s in planted.items()} for f in cols})


def user_bootstrap(design: SensitivityDesign, result: SensitivityResult, n_boot: int = 200,
                   seed: int = 0) -> pd.DataFrame:
    """Bootstrap slopes (users resampled within country): columns ``boot``, ``country``, ``feature``, ``coef``."""
    rng = np.random.default_rng(seed)
    feats = list(design.x.columns)
    wide = result.effects.pivot(index="country", columns="feature", values="coef")
    country = design.meta["country"].astype(object).to_numpy()
    out = []
    for c in result.countries:
        rows = country == c
        x = np.column_stack([np.ones(rows.sum()), design.x[feats].to_numpy()[rows]])
        beta = np.concatenate([[result.intercepts[c]], wide.loc[c, feats].to_numpy(float)])
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        users = pd.factorize(design.meta["user_id"].to_numpy()[rows])[0]
        k, g = x.shape[1], users.max() + 1
        score = np.zeros((g, k))
        np.add.at(score, users, (design.y[rows] - p)[:, None] * x)
        info = np.zeros((g, k, k))
        np.add.at(info, users, (p * (1 - p))[:, None, None] * x[:, :, None] * x[:, None, :])
        for b in range(n_boot):
            counts = rng.multinomial(g, np.full(g, 1.0 / g)).astype(float)
            step = np.linalg.lstsq(np.tensordot(counts, info, 1), counts @ score, rcond=None)[0]
            out += [(b, c, f, float(v)) for f, v in zip(feats, (beta + step)[1:], strict=True)]
    return pd.DataFrame(out, columns=["boot", "country", "feature", "coef"])


def rank_agreement(estimate: pd.Series, reference: pd.Series) -> tuple[float, float]:
    """Spearman's rho (mid-ranks for ties) over the shared countries, and the highest rho a tie-free estimate
    could reach; NaN where fewer than 3 countries or either side is constant.

    Example:
        >>> ref = pd.Series({"DE": 1.0, "ES": 2.0, "FR": 2.0, "JP": 3.0})
        >>> rho, best = rank_agreement(pd.Series({"DE": 0.1, "ES": 0.2, "FR": 0.3, "JP": 0.4}), ref)
        >>> round(rho, 3), round(best, 3)
        (0.949, 0.949)
    """
    both = pd.concat([estimate.rename("e"), reference.rename("r")], axis=1, join="inner").dropna()
    if len(both) < 3 or both["e"].nunique() < 2 or both["r"].nunique() < 2:
        return float("nan"), float("nan")
    rho = float(stats.spearmanr(both["e"], both["r"]).statistic)
    tie_free = stats.rankdata(both["r"], method="ordinal")
    return rho, float(stats.spearmanr(tie_free, both["r"]).statistic)


def spearman_rows(draws: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Spearman's rho (mid-ranks) of each row of ``draws`` with ``reference``, vectorised over rows; NaN for a
    constant row, a constant reference, fewer than 3 columns, or a row with a NaN.

    Example:
        >>> spearman_rows(np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0], [1.0, 1.0, 1.0]]), np.array([1.0, 2.0, 3.0]))
        array([ 1., -1., nan])
    """
    draws, reference = np.atleast_2d(np.asarray(draws, float)), np.asarray(reference, float)
    rho = np.full(len(draws), np.nan)
    if draws.shape[1] < 3 or np.ptp(reference) == 0:
        return rho
    a, b = stats.rankdata(draws, axis=1), stats.rankdata(reference)
    a, b = a - a.mean(axis=1, keepdims=True), b - b.mean()
    denom = np.sqrt((a * a).sum(axis=1) * (b @ b))
    ok = np.isfinite(denom) & (denom > 0)
    rho[ok] = (a[ok] @ b) / denom[ok]
    return rho


def within_feature_recovery(effects: pd.DataFrame, boot: pd.DataFrame | None, reference: pd.DataFrame,
                            alpha: float = 0.05) -> pd.DataFrame:
    """Per feature: rho of the estimated vs reference slopes across countries, its bootstrap CI, the highest
    attainable rho and the countries; a last row ``mean over features`` averages them.

    ``effects``: country, feature, coef; ``boot``: the same with a ``boot`` column (or None: no interval);
    ``reference``: countries x features. A feature whose reference does not vary across the countries (nothing
    planted) has no rank to recover and is left out; with none left the frame is empty (same columns).
    """
    est = effects.pivot(index="country", columns="feature", values="coef")
    feats = [f for f in est.columns if f in reference.columns]
    draws = {} if boot is None or boot.empty else {
        f: g.pivot(index="boot", columns="country", values="coef") for f, g in boot.groupby("feature")}
    rows, per_boot = [], []
    for f in feats:
        rho, best = rank_agreement(est[f], reference[f])
        if not np.isfinite(rho):
            continue
        values = _boot_spearman(draws[f], reference[f]) if f in draws else np.array([])
        lo, hi, _ = interval(rho, values, alpha, bounds=(-1.0, 1.0))
        rows.append({"feature": f, "spearman": rho, "ci_low": float(lo), "ci_high": float(hi),
                     "max_attainable": best, "n_countries": int(est[f].notna().sum())})
        per_boot.append(values)
    if rows:
        stacked = np.vstack(per_boot) if all(len(v) for v in per_boot) else np.empty((0, 0))
        with warnings.catch_warnings():  # a replicate with no defined rho at all has an undefined (NaN) mean
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(stacked, axis=0) if stacked.size else np.array([])
        overall = float(np.mean([r["spearman"] for r in rows]))
        lo, hi, _ = interval(overall, mean, alpha, bounds=(-1.0, 1.0))
        rows.append({"feature": "mean over features", "spearman": overall,
                     "ci_low": float(lo), "ci_high": float(hi),
                     "max_attainable": float(np.mean([r["max_attainable"] for r in rows])),
                     "n_countries": int(max(r["n_countries"] for r in rows))})
    return pd.DataFrame(rows, columns=["feature", "spearman", "ci_low", "ci_high", "max_attainable", "n_countries"])


def _boot_spearman(draws: pd.DataFrame, reference: pd.Series) -> np.ndarray:
    """:func:`rank_agreement`'s rho for every row (replicate) of ``draws`` (replicates x countries): vectorised
    over the complete rows, one by one for the rows that lack a country."""
    ref = reference.dropna()
    shared = [c for c in draws.columns if c in ref.index]
    values = spearman_rows(draws[shared].to_numpy(float), ref[shared].to_numpy(float))
    ragged = draws[shared].isna().any(axis=1).to_numpy()
    values[ragged] = [rank_agreement(draws.loc[i], reference)[0] for i in draws.index[ragged]]
    return values
