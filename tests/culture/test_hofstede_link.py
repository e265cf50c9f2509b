import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from culturecart.culture import (
    alignment_scores,
    hofstede_correlations,
    literature_table,
    literature_verdicts,
    permutation_spearman,
)
from culturecart.data.hofstede import shipped_hofstede


def test_permutation_spearman_matches_brute_force():
    x = np.array([3.0, 1.0, 4.0, 1.5, 5.0, 9.0])
    y = np.array([2.0, 7.0, 1.0, 8.0, 2.5, 8.5])
    rho, p = permutation_spearman(x, y)
    assert rho == pytest.approx(spearmanr(x, y).statistic)
    null = [spearmanr(x, y[list(perm)]).statistic for perm in itertools.permutations(range(6))]
    assert p == pytest.approx(np.mean(np.abs(null) >= abs(rho) - 1e-12))


def test_large_samples_use_monte_carlo_and_stay_valid():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=12), rng.normal(size=12)
    rho, p = permutation_spearman(x, y, n_perm=2000)
    assert 0 < p <= 1 and rho == pytest.approx(spearmanr(x, y).statistic)


def test_correlations_and_verdicts():
    profiles = shipped_hofstede()
    countries = ["KR", "US", "GB", "DE", "JP", "FR", "ES", "ID"]
    sens = pd.DataFrame({"rating": -profiles.loc[countries, "pdi"].to_numpy(),  # planted: PDI lowers it
                         "brand_premium": -profiles.loc[countries, "pdi"].to_numpy()}, index=countries)
    corr = hofstede_correlations(sens, profiles)
    verdicts = literature_verdicts(corr).set_index(["feature", "dimension"])
    assert verdicts.loc[("rating", "pdi"), "verdict"] == "agree"
    assert verdicts.loc[("brand_premium", "pdi"), "verdict"] == "disagree"
    assert verdicts.loc[("free_shipping", "uai"), "verdict"] == "not estimated"
    assert (corr["n_countries"] == 8).all()


def test_literature_table_cites_required_sources():
    t = literature_table()
    assert t["source"].str.contains("Kim \\(2019\\)").sum() >= 5
    assert t["source"].str.contains("Al Kailani & Kumar").any()
    assert t["note"].str.contains("Minkov").any()
    assert set(t["expected_sign"]) == {-1, 1}


def test_alignment_score_hand_case():
    profiles = shipped_hofstede()
    lit = pd.DataFrame({"feature": ["a", "b", "c"], "dimension": ["uai", "pdi", "idv"], "expected_sign": [1, 1, 1]})
    countries = ["DE", "JP"]
    z = (profiles.loc[countries, ["uai", "pdi", "idv"]].astype(float) - 50) / 25
    # implied sensitivities proportional to exp(expected score): same ranking -> alignment 1
    sens = pd.DataFrame({f: np.exp(z[d].to_numpy()) for f, d in zip("abc", ["uai", "pdi", "idv"], strict=True)},
                        index=countries)
    assert alignment_scores(sens, profiles, lit).tolist() == pytest.approx([1.0, 1.0])
    # implied magnitudes in the reverse order of the expectation -> alignment -1
    assert alignment_scores(1 / sens, profiles, lit).tolist() == pytest.approx([-1.0, -1.0])


def test_alignment_is_missing_not_a_crash_when_no_feature_has_a_literature_row():
    from culturecart.data.hofstede import shipped_hofstede

    sens = pd.DataFrame({"price": [-0.2, -0.3], "discount": [0.1, 0.2]}, index=["DE", "FR"])  # a user's own names
    out = alignment_scores(sens, shipped_hofstede())
    assert list(out.index) == ["DE", "FR"] and out.isna().all()
