import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from culturecart.culture.calibration import Generative
from culturecart.culture.trust import (
    _mean_spearman,
    calibrated_p_values,
    claim_outcomes,
    clustered_rate,
    detectable_effects,
    false_positive_rates,
    null_reference,
    rho_critical,
    users_for_recovery,
)
from culturecart.data.hofstede import shipped_hofstede


def test_clustered_rate_is_wilson_when_each_replicate_holds_one_test():
    hits = [1] * 7 + [0] * 93
    rate, low, high = clustered_rate(hits, [1] * 100)
    ref = proportion_confint(7, 100, method="wilson")
    assert rate == 0.07
    np.testing.assert_allclose([low, high], ref, rtol=1e-9)


def test_clustered_rate_counts_replicates_when_their_tests_move_together():
    # Every test of a replicate fires together: 800 tests carry the information of 100 replicates.
    hits = [8] * 7 + [0] * 93
    rate, low, high = clustered_rate(hits, [8] * 100)
    np.testing.assert_allclose([low, high], proportion_confint(7, 100, method="wilson"), rtol=1e-9)
    # No false positive at all: the bound is the Wilson bound over the replicates, z^2 / (R + z^2).
    z2 = stats.norm.ppf(0.975) ** 2
    assert clustered_rate([0] * 100, [8] * 100)[2] == pytest.approx(z2 / (100 + z2))


def test_rho_critical_matches_the_published_table():
    # Two-sided 0.05 critical values of Spearman's rho (Zar 1972, JASA 67:578-580): n=6 0.886, n=8 0.738.
    assert rho_critical(6) == pytest.approx(0.886, abs=5e-4)
    assert rho_critical(8) == pytest.approx(0.738, abs=5e-4)
    assert np.isnan(rho_critical(2))


def test_vectorised_mean_spearman_equals_scipy_with_ties():
    rng = np.random.default_rng(0)
    draws, ref = rng.normal(size=(40, 7)), np.array([1, 2, 2, 3, 5, 5, 9.0])
    assert _mean_spearman(draws, ref) == pytest.approx(np.mean([stats.spearmanr(d, ref).statistic for d in draws]))


def _gen(features=("discount_rate",), countries=("DE", "FR", "JP", "US", "KR", "GB")) -> Generative:
    slopes = dict(zip(countries, np.linspace(0.2, 0.7, len(countries)), strict=True))
    return Generative(tuple(countries), tuple(features), -1.0, {f: 0.45 for f in features},
                      {c: -1.0 + 0.1 * i for i, c in enumerate(countries)},
                      {c: {f: float(slopes[c]) for f in features} for c in countries})


def test_detectable_effects_recover_a_known_noncentrality():
    gen, df, lam1 = _gen(), 5, 9.0
    rng = np.random.default_rng(1)
    reps = []
    for s in (0.5, 1.0, 2.0):
        for r, w in enumerate(stats.ncx2.rvs(df, s * s * lam1, size=400, random_state=rng)):
            reps.append({"scale": s, "replicate": r, "error": None,
                         "heterogeneity": {"feature": ["discount_rate"], "wald_chi2": [w], "df": [df],
                                           "p_value": [stats.chi2.sf(w, df)]}})
    row = detectable_effects(reps, gen, users_per_country=100).iloc[0]
    assert row["noncentrality_1"] == pytest.approx(lam1, rel=0.1)
    assert row["power_1"] == pytest.approx(row["empirical_power_1"], abs=0.06)
    lam80 = 12.83  # noncentrality giving 80% power with 5 df at 0.05 (checked on the next line)
    assert stats.ncx2.sf(stats.chi2.ppf(0.95, df), df, lam80) == pytest.approx(0.8, abs=0.01)
    assert row["users_per_country_80"] == pytest.approx(100 * lam80 / row["noncentrality_1"], rel=0.01)
    sd = gen.planted(1.0)["discount_rate"].std(ddof=0)
    assert row["mde_80"] == pytest.approx(sd * np.sqrt(lam80 / row["noncentrality_1"]), rel=0.01)


def test_outcomes_count_only_claims_of_cultural_differences_as_false_positives():
    gen = _gen()
    profiles = shipped_hofstede().loc[list(gen.countries)]
    rep = {"scale": 0.0, "replicate": 0, "error": None,
           "heterogeneity": {"feature": ["discount_rate"], "wald_chi2": [20.0], "df": [5], "p_value": [0.001]},
           "hofstede": {"feature": ["discount_rate", "discount_rate"], "dimension": ["pdi", "idv"],
                        "rho": [0.9, np.nan], "p_value": [0.01, np.nan]},
           "literature": {"feature": ["discount_rate", "rating"], "dimension": ["lto", "idv"],
                          "expected_sign": [1, -1], "verdict": ["agree", "not estimated"]},
           "rq3": {"country": ["DE", "FR", "JP"], "winner": ["global", "local", "culture"],
                   "p_adjusted": [0.001, 0.001, 0.5], "significant": [True, True, False]}}
    failed = {"scale": 0.0, "replicate": 1, "error": "ValueError: no rows"}
    out = claim_outcomes([rep, failed], gen, profiles, 0.05, 0.1)
    counts = out.groupby("family")["significant"].agg(["sum", "count"])
    assert counts.loc["heterogeneity"].tolist() == [1, 1]
    assert counts.loc["hofstede"].tolist() == [1, 1]  # the NaN correlation is not a test
    assert counts.loc["literature"].tolist() == [1, 1]  # "not estimated" is not a test
    assert counts.loc["rq3"].tolist() == [1, 3]  # a global win is not a claim that culture matters
    fpr = false_positive_rates(out, {"rq3": 0.05}).set_index("family")
    assert fpr.loc["rq3", "fpr"] == pytest.approx(1 / 3) and fpr.loc["rq3", "nominal"] == 0.05


def test_users_for_recovery_need_more_users_for_noisier_estimates():
    gen = _gen()

    def reps(noise):
        rng = np.random.default_rng(0)
        planted = gen.planted(1.0)["discount_rate"]
        return [{"scale": 1.0, "replicate": r, "error": None,
                 "effects": {"country": list(planted.index), "feature": ["discount_rate"] * len(planted),
                             "coef": list(planted.to_numpy() + noise * rng.standard_normal(len(planted))),
                             "se": [noise] * len(planted)}} for r in range(30)]

    precise = users_for_recovery(reps(0.01), gen, 100).iloc[0]
    noisy = users_for_recovery(reps(0.3), gen, 100).iloc[0]
    assert precise["multiplier"] == 1 and precise["spearman_now"] > 0.95
    assert noisy["multiplier"] > 1 and noisy["users_per_country"] == 100 * noisy["multiplier"]
    assert noisy["spearman_now"] < 0.8


def test_no_replicates_give_an_empty_outcome_table_with_its_columns():
    assert list(claim_outcomes([], _gen(), shipped_hofstede(), 0.05, 0.1).columns) == [
        "family", "test", "scale", "replicate", "significant", "detected"]


def _het_replicates(scale_stats: dict[float, np.ndarray], df: int) -> list[dict]:
    return [{"scale": s, "replicate": r, "error": None,
             "heterogeneity": {"feature": ["discount_rate"], "wald_chi2": [float(w)], "df": [df],
                               "p_value": [float(stats.chi2.sf(w, df))]}}
            for s, ws in scale_stats.items() for r, w in enumerate(ws)]


def test_calibrated_p_counts_null_statistics_at_least_the_observed_one():
    reps = _het_replicates({0.0: np.array([1.0, 2.0, 3.0, 4.0])}, df=3)
    observed = pd.DataFrame({"feature": ["discount_rate"], "wald_chi2": [3.0], "df": [3], "p_value": [0.39]})
    out = calibrated_p_values(observed, reps).iloc[0]
    assert out["p_calibrated"] == pytest.approx((1 + 2) / (1 + 4)) and out["null_replicates"] == 4


def test_an_over_rejecting_test_is_rescaled_before_its_power_is_modelled():
    # Cluster-robust errors too small by a factor sqrt(2): every Wald statistic doubles, null ones included.
    gen, df, lam1 = _gen(), 4, 8.0
    rng = np.random.default_rng(2)
    reps = _het_replicates({0.0: 2 * stats.chi2.rvs(df, size=400, random_state=rng),
                            **{s: 2 * stats.ncx2.rvs(df, s * s * lam1, size=400, random_state=rng)
                               for s in (0.5, 1.0, 2.0)}}, df)
    ref = null_reference(reps).iloc[0]
    assert ref["inflation"] == pytest.approx(2.0, rel=0.1)
    assert ref["critical"] == pytest.approx(2 * stats.chi2.ppf(0.95, df), rel=0.1)
    row = detectable_effects(reps, gen, users_per_country=50).iloc[0]
    assert row["noncentrality_1"] == pytest.approx(lam1, rel=0.15)
    # Power at scale 1 is judged with the calibrated threshold: it matches the noncentral model.
    assert row["empirical_power_1"] == pytest.approx(row["power_1"], abs=0.07)
    outcomes = claim_outcomes(reps, gen, shipped_hofstede().loc[list(gen.countries)], 0.05, 0.1)
    fpr = false_positive_rates(outcomes, {}).set_index("family").loc["heterogeneity"]
    assert fpr["ci_low"] > 0.15  # the asymptotic test's over-rejection is what the null replicates show
