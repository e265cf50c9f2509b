"""How far to trust RQ3/RQ4: false-positive rates, power, minimum detectable effects from calibration replicates.

Input: the replicates of :func:`culturecart.culture.calibration.analyse_replicate` (scale 0 = the null, no
cultural differences; scale ``s`` = the fitted differences times ``s``) and the :class:`Generative` model
they were drawn from.

* **False-positive rate** per test family, on the null replicates: false positives over tests, pooled over
  every test of every replicate. Tests within one replicate share its labels, so the interval clusters by
  replicate: the ratio estimator's between-replicate variance gives a design effect, and the Wilson interval
  uses the effective number of tests it implies, never more than the tests and never fewer than the
  replicates (with no false positive at all, the replicates count: the most cautious reading).
  Families: ``heterogeneity`` (Wald p < alpha per feature), ``hofstede`` (permutation p < alpha per feature x
  dimension), ``literature`` (an agree or disagree verdict, at the literature alpha), ``rq3`` (a country-aware
  scope winning significantly after BH; a global win is not a false positive of "culture matters").
* **Power** per family and scale: the share of planted differences detected (heterogeneity: every feature's
  test; Hofstede and literature: significant with the planted correlation's sign).
* **Calibrated p-values** for the heterogeneity tests: the study's Wald statistic against the null replicates'
  (a parametric-bootstrap test): where cluster-robust errors are too small (few users per country), the
  asymptotic p-values reject far too often, and the false-positive rate above shows it.
* **Minimum detectable effect** per feature: the Wald statistic of a feature, divided by its null inflation
  (mean null statistic over df), is about noncentral chi-square
  with noncentrality ``lambda(s) = s^2 * lambda_1``; ``lambda_1`` is fitted to the replicates' mean statistic
  over the planted scales (least squares through the origin on ``mean W - df``), which gives the scale
  ``s80`` with 80% power and the MDE as the cross-country SD of the slope at that scale (log-odds per
  catalogue SD). The noncentrality grows with the users per country, so ``lambda_80 / lambda_1`` times the
  current users per country is what the observed differences would need for 80% power.
* **Within-feature recovery** per scale: Spearman's rho across countries between each replicate's estimated
  slopes and the planted ones, per feature and on average, with a percentile interval over replicates.

The planted differences at scale 1 are the fitted ones, estimation noise included, so they overstate the
true differences somewhat; scale 0.5 brackets that.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from culturecart.culture.calibration import BASELINE, Generative
from culturecart.culture.hofstede_link import EXACT_MAX, all_orderings, hofstede_correlations
from culturecart.culture.recovery import rank_agreement, spearman_rows
from culturecart.culture.sensitivity import oriented

FAMILIES = ("heterogeneity", "hofstede", "literature", "rq3")
POWER_TARGET = 0.8
# Below this median number of users per country, the RQ4 heterogeneity tests' false-positive rate is inflated and
# `calibration: auto` calibrates them (benchmarks/calibration_threshold.py measures the rate at 25, 50, 100 and
# 250 users per country; docs/study.md has the table).
SMALL_DESIGN_USERS = 100
AUTO_MIN_NULL = 99  # null replicates of an automatic calibration at the least


def auto_null_replicates(n_tests: int, level: float = 0.05) -> int:
    """Null replicates enough for the smallest calibrated p, 1 / (1 + replicates), to pass Benjamini-Hochberg over
    ``n_tests`` tests below ``level`` even when it is the only one (``n_tests / (1 + replicates) < level``): a
    calibrated test must keep the power to find a real difference.

    Example:
        >>> auto_null_replicates(2), auto_null_replicates(8)
        (99, 160)
    """
    return max(AUTO_MIN_NULL, int(n_tests / level + 1e-9))


def clustered_rate(hits: Sequence[float], tests: Sequence[float], alpha: float = 0.05) -> tuple[float, float, float]:
    """Pooled rate sum(hits)/sum(tests) and its Wilson interval at the replicate-clustered effective size.

    Example:
        >>> rate, low, high = clustered_rate([0] * 100, [8] * 100)  # no false positive in 100 replicates
        >>> rate, round(high, 3)  # 100 replicates, not 800 tests, set the bound
        (0.0, 0.037)
    """
    f, t = np.asarray(hits, float), np.asarray(tests, float)
    keep = t > 0
    f, t = f[keep], t[keep]
    r, n = len(t), float(t.sum())
    if r == 0:
        return float("nan"), float("nan"), float("nan")
    p = float(f.sum() / n)
    n_eff = float(r)
    if 0 < p < 1 and r > 1:
        var = float(((f - p * t) ** 2).sum() / (r * (r - 1) * t.mean() ** 2))
        n_eff = p * (1 - p) / var if var > 0 else n
    n_eff = float(np.clip(n_eff, r, n))
    z = stats.norm.ppf(1 - alpha / 2)
    centre = (p + z * z / (2 * n_eff)) / (1 + z * z / n_eff)
    half = z * np.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff ** 2)) / (1 + z * z / n_eff)
    # Analytically the interval holds p; at p = 0 or 1 rounding could leave it a hair outside.
    return p, float(min(p, max(0.0, centre - half))), float(max(p, min(1.0, centre + half)))


def _frame(rep: dict, key: str) -> pd.DataFrame:
    return pd.DataFrame(rep.get(key) or {})


MIN_NULL = 20  # null replicates needed before their distribution replaces the chi-square reference


def _null_statistics(replicates: list[dict]) -> pd.DataFrame:
    """The heterogeneity tests of every null replicate that could be fitted, in one table."""
    frames = [_frame(r, "heterogeneity") for r in replicates if not r.get("error") and r["scale"] == 0]
    return pd.concat(frames, ignore_index=True) if frames else \
        pd.DataFrame(columns=["feature", "wald_chi2", "df", "p_value"])


def null_reference(replicates: list[dict], alpha: float = 0.05) -> pd.DataFrame:
    """Per feature, from the null replicates' Wald statistics: their count, ``inflation`` (mean statistic over
    its degrees of freedom: 1 for a calibrated test; above 1 when cluster-robust errors with few users per
    country are too small) and ``critical`` (the 1 - alpha quantile, the calibrated test's threshold; NaN with
    fewer than 20 null replicates, where the chi-square threshold stays)."""
    null = _null_statistics(replicates)
    if null.empty:
        return pd.DataFrame(columns=["feature", "null_replicates", "inflation", "critical"])
    rows = []
    for feature, g in null.groupby("feature", sort=False):
        w = g["wald_chi2"].to_numpy(float)
        rows.append({"feature": feature, "null_replicates": len(w), "inflation": float(w.mean() / g["df"].iloc[0]),
                     "critical": float(np.quantile(w, 1 - alpha)) if len(w) >= MIN_NULL else np.nan})
    return pd.DataFrame(rows)


def calibrated_p_values(observed: pd.DataFrame, replicates: list[dict]) -> pd.DataFrame:
    """The heterogeneity tests of the study's own fit with their parametric-bootstrap p-value beside the
    asymptotic one: ``(1 + #null statistics >= observed) / (1 + #null replicates)`` (Davison & Hinkley 1997,
    eq. 4.11), which holds its level whatever the cluster-robust errors' small-sample bias."""
    null = _null_statistics(replicates)
    out = observed[["feature", "wald_chi2", "df", "p_value"]].copy()
    out["null_replicates"] = [int((null["feature"] == f).sum()) for f in out["feature"]]
    out["p_calibrated"] = [(1 + int((null.loc[null["feature"] == f, "wald_chi2"] >= w).sum())) / (1 + n)
                           if n else np.nan for f, w, n in zip(out["feature"], out["wald_chi2"],
                                                               out["null_replicates"], strict=True)]
    return out


def planted_correlations(gen: Generative, scale: float, profiles: pd.DataFrame) -> pd.DataFrame:
    """The Hofstede correlations of the planted sensitivities at ``scale`` (what a perfect estimate would show)."""
    planted = gen.planted(scale)
    return hofstede_correlations(oriented(planted[list(gen.features)], planted[BASELINE]), profiles)


def claim_outcomes(replicates: list[dict], gen: Generative, profiles: pd.DataFrame, alpha: float,
                  literature_alpha: float) -> pd.DataFrame:
    """One row per test of every replicate: family, test name, scale, replicate, significant, detected.

    ``significant``: the test's claim was made (p below its level; for RQ3, a country-aware scope won
    significantly); ``detected``: significant in the planted direction (equal to ``significant`` where the
    planted difference has no direction). On the null replicates a heterogeneity test is judged by its
    asymptotic p (its false-positive rate is the question); on planted ones, once there are 20 null replicates,
    by the calibrated threshold (:func:`null_reference`), the test the report's verdicts use.
    """
    ref = null_reference(replicates, alpha)
    critical = dict(zip(ref["feature"], ref["critical"], strict=True))
    rows = []
    planted_rho = {s: planted_correlations(gen, s, profiles).set_index(["feature", "dimension"])["rho"]
                   for s in sorted({r["scale"] for r in replicates}) if s > 0}
    for rep in replicates:
        if rep.get("error"):
            continue
        s, r = rep["scale"], rep["replicate"]
        het = _frame(rep, "heterogeneity")
        for row in het.itertuples():
            sig = bool(row.p_value < alpha)
            if s > 0 and np.isfinite(critical.get(row.feature, np.nan)):
                sig = bool(row.wald_chi2 > critical[row.feature])  # power of the calibrated test
            rows.append(("heterogeneity", row.feature, s, r, sig, sig))
        hof = _frame(rep, "hofstede")
        hof = hof.dropna(subset=["p_value"]) if not hof.empty else hof
        for row in hof.itertuples():
            sig = bool(row.p_value < alpha)
            want = np.sign(planted_rho[s].get((row.feature, row.dimension), np.nan)) if s > 0 else np.nan
            rows.append(("hofstede", f"{row.feature}~{row.dimension}", s, r, sig,
                         sig and bool(np.sign(row.rho) == want)))
        lit = _frame(rep, "literature")
        lit = lit[lit["verdict"] != "not estimated"] if not lit.empty else lit
        for row in lit.itertuples():
            sig = row.verdict in ("agree", "disagree")
            planted = planted_rho[s].get((row.feature, row.dimension), np.nan) if s > 0 else np.nan
            truth = "agree" if np.sign(planted) == row.expected_sign else "disagree"
            rows.append(("literature", f"{row.feature}~{row.dimension}", s, r, sig, sig and row.verdict == truth))
        if "rq3" in rep:
            w = _frame(rep, "rq3")
            for row in w.itertuples():
                sig = bool(row.significant) and row.winner != "global"
                rows.append(("rq3", row.country, s, r, sig, sig))
    return pd.DataFrame(rows, columns=["family", "test", "scale", "replicate", "significant", "detected"])


def false_positive_rates(outcomes: pd.DataFrame, nominal: dict[str, float]) -> pd.DataFrame:
    """Per family, on the null replicates: tests, false positives, rate and its replicate-clustered 95% CI."""
    null = outcomes[outcomes["scale"] == 0]
    rows = []
    for fam in FAMILIES:
        g = null[null["family"] == fam]
        if g.empty:
            continue
        per = g.groupby("replicate")["significant"].agg(["sum", "count"])
        rate, low, high = clustered_rate(per["sum"], per["count"])
        rows.append({"family": fam, "nominal": nominal.get(fam, np.nan), "replicates": len(per),
                     "tests": int(per["count"].sum()), "false_positives": int(per["sum"].sum()), "fpr": rate,
                     "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def power_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per family and planted scale: the share of planted differences detected, with its clustered CI."""
    rows = []
    for (fam, s), g in outcomes[outcomes["scale"] > 0].groupby(["family", "scale"]):
        per = g.groupby("replicate")["detected"].agg(["sum", "count"])
        rate, low, high = clustered_rate(per["sum"], per["count"])
        rows.append({"family": fam, "scale": s, "replicates": len(per), "tests": int(per["count"].sum()),
                     "power": rate, "ci_low": low, "ci_high": high})
    return pd.DataFrame(rows)


def _lambda_80(df: int, alpha: float, target: float = POWER_TARGET) -> float:
    crit = stats.chi2.ppf(1 - alpha, df)
    return float(optimize.brentq(lambda lam: stats.ncx2.sf(crit, df, lam) - target, 1e-6, 1e4))


def detectable_effects(replicates: list[dict], gen: Generative, users_per_country: float,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Per feature: fitted noncentrality, empirical power per scale, MDE at 80% power, users for 80% power."""
    het = pd.concat([_frame(r, "heterogeneity").assign(scale=r["scale"]) for r in replicates
                     if not r.get("error") and r["scale"] > 0], ignore_index=True)
    ref = null_reference(replicates, alpha).set_index("feature")
    planted = gen.planted(1.0)
    rows = []
    for feature, g in het.groupby("feature", sort=False):
        df = int(g["df"].iloc[0])
        # Statistics divided by the null's inflation: the scaled chi-square the calibrated test follows.
        k = float(ref.loc[feature, "inflation"]) if feature in ref.index else 1.0
        means = g.groupby("scale")["wald_chi2"].mean() / k
        s2 = means.index.to_numpy(float) ** 2
        lam1 = max(float(((means.to_numpy() - df) * s2).sum() / (s2 ** 2).sum()), 0.0)
        lam80 = _lambda_80(df, alpha)
        sd = float(planted[feature].std(ddof=0))  # cross-country SD of the fitted slopes (scale 1)
        crit = float(ref.loc[feature, "critical"]) if feature in ref.index else np.nan
        crit = crit if np.isfinite(crit) else float(stats.chi2.ppf(1 - alpha, df))
        row = {"feature": feature, "df": df, "null_inflation": k, "planted_sd": sd, "noncentrality_1": lam1,
               "power_1": float(stats.ncx2.sf(stats.chi2.ppf(1 - alpha, df), df, lam1)) if lam1 > 0 else alpha,
               "mde_80": sd * np.sqrt(lam80 / lam1) if lam1 > 0 else np.inf,
               "users_per_country_80": users_per_country * lam80 / lam1 if lam1 > 0 else np.inf}
        for s, part in g.groupby("scale"):
            row[f"empirical_power_{s:g}"] = float((part["wald_chi2"] > crit).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def recovery(replicates: list[dict], gen: Generative, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Within-feature, across-country Spearman of estimated vs planted slopes, per scale and feature (and
    ``all``: the mean over features), with percentile intervals over replicates."""
    rows = []
    for s in sorted({r["scale"] for r in replicates if r["scale"] > 0}):
        planted = gen.planted(s)
        per_rep = []
        for rep in replicates:
            if rep.get("error") or rep["scale"] != s:
                continue
            est = _frame(rep, "effects").pivot(index="country", columns="feature", values="coef")
            per_rep.append({f: rank_agreement(est[f], planted[f])[0] for f in gen.features if f in est})
        table = pd.DataFrame(per_rep)
        table["all"] = table.mean(axis=1)
        rng = np.random.default_rng(seed)
        for f in table.columns:
            v = table[f].dropna().to_numpy()
            if not len(v):
                continue
            boots = [v[rng.integers(0, len(v), len(v))].mean() for _ in range(n_boot)]
            lo, hi = np.quantile(boots, [0.025, 0.975])
            rows.append({"scale": s, "feature": f, "spearman": float(v.mean()), "ci_low": float(lo),
                         "ci_high": float(hi), "replicates": len(v)})
    return pd.DataFrame(rows)


def users_for_recovery(replicates: list[dict], gen: Generative, users_per_country: float, target: float = 0.8,
                       n_draws: int = 400, seed: int = 0) -> pd.DataFrame:
    """Per feature: users per country at which the expected within-feature Spearman reaches ``target``.

    Each country's slope estimate is taken as normal around the planted (scale 1) slope with the standard
    error the scale-1 replicates show, shrinking as 1 / sqrt(users); the expected rho is averaged over
    ``n_draws`` draws on a grid of multiples of the current users per country.
    """
    effects = pd.concat([_frame(r, "effects") for r in replicates if not r.get("error") and r["scale"] == 1.0],
                        ignore_index=True)
    if effects.empty:
        return pd.DataFrame(columns=["feature", "spearman_now", "users_per_country"])
    se = effects.groupby(["country", "feature"])["coef"].std().unstack()  # replicate SD = the estimate's SE
    planted = gen.planted(1.0)
    rng = np.random.default_rng(seed)
    grid = [1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128]
    rows = []
    for f in gen.features:
        mu, sd = planted[f].reindex(se.index).to_numpy(), se[f].to_numpy()
        if np.ptp(mu) == 0:
            continue
        noise = rng.standard_normal((n_draws, len(mu)))
        expected = {m: _mean_spearman(mu + noise * sd / np.sqrt(m), mu) for m in grid}
        need = next((m for m in grid if expected[m] >= target), np.inf)
        rows.append({"feature": f, "spearman_now": expected[1], "multiplier": need,
                     "users_per_country": users_per_country * need})
    return pd.DataFrame(rows)


def _mean_spearman(draws: np.ndarray, reference: np.ndarray) -> float:
    """Mean Spearman rho of each row of ``draws`` with ``reference`` (mid-ranks), vectorised."""
    return float(np.mean(spearman_rows(draws, reference)))


def rho_critical(n_countries: int, alpha: float = 0.05, n_perm: int = 20000, seed: int = 0) -> float:
    """The smallest |Spearman rho| the permutation test over ``n_countries`` calls significant at ``alpha``
    (exact null up to 8 countries, Monte Carlo above, as :func:`~culturecart.culture.hofstede_link.permutation_spearman`).

    Example:
        >>> round(rho_critical(8), 3)
        0.738
    """
    n = n_countries
    if n < 3:
        return float("nan")
    if n <= EXACT_MAX:
        perms = all_orderings(n).astype(float)
    else:
        rng = np.random.default_rng(seed)
        perms = np.array([rng.permutation(n) for _ in range(n_perm)], float)
    d = ((perms - np.arange(n)) ** 2).sum(1)
    null = np.abs(1 - 6 * d / (n * (n * n - 1)))
    for value in np.unique(np.round(null, 12)):
        if np.mean(null >= value - 1e-12) < alpha:
            return float(value)
    return float("nan")
