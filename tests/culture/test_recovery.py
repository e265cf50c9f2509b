import numpy as np
import pandas as pd
import pytest

from culturecart.culture.recovery import (
    planted_sensitivities,
    rank_agreement,
    spearman_rows,
    user_bootstrap,
    within_feature_recovery,
)
from culturecart.culture.sensitivity import SensitivityDesign, country_logit

COUNTRIES = ["DE", "FR", "JP", "KR", "US"]
SLOPES = [0.1, 0.3, 0.5, 0.7, 0.9]


@pytest.fixture(scope="module")
def fit():
    rng = np.random.default_rng(3)
    n = 8000
    c = rng.integers(0, len(COUNTRIES), n)
    user = rng.integers(0, 1600, n)  # ~5 rows per user, users nested in their row's country below
    x = pd.DataFrame({"discount_rate": rng.normal(size=n), "rating": rng.normal(size=n)})
    eta = -0.3 + np.asarray(SLOPES)[c] * x["discount_rate"].to_numpy() + 0.2 * x["rating"].to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    meta = pd.DataFrame({"country": np.array(COUNTRIES)[c], "user_id": [f"{k}-{u}" for k, u in zip(c, user, strict=True)],
                         "session_id": "s", "item_id": "i"})
    design = SensitivityDesign(x, y, meta, {})
    return design, country_logit(design)


def test_user_bootstrap_spread_matches_the_cluster_robust_standard_errors(fit):
    design, result = fit
    boot = user_bootstrap(design, result, n_boot=300, seed=0)
    assert len(boot) == 300 * len(COUNTRIES) * 2
    spread = boot.groupby(["country", "feature"])["coef"].std()
    ratio = spread / result.effects.set_index(["country", "feature"])["se"].reindex(spread.index)
    assert 0.9 < ratio.median() < 1.1 and ratio.between(0.7, 1.3).all()
    # Centred on the estimate (one Newton step from it on each resample).
    centre = boot.groupby(["country", "feature"])["coef"].mean()
    est = result.effects.set_index(["country", "feature"])["coef"].reindex(centre.index)
    assert ((centre - est).abs() < 0.5 * spread).all()
    pd.testing.assert_frame_equal(boot, user_bootstrap(design, result, n_boot=300, seed=0))


def test_rank_agreement_uses_mid_ranks_and_reports_the_attainable_maximum():
    ref = pd.Series({"DE": 1.0, "ES": 2.0, "FR": 2.0, "JP": 3.0})
    rho, best = rank_agreement(pd.Series({"DE": 0.1, "ES": 0.2, "FR": 0.3, "JP": 0.4}), ref)
    # By hand: mid-ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): covariance 4.5, sqrt(4.5 * 5) = 4.743.
    assert rho == pytest.approx(4.5 / np.sqrt(4.5 * 5.0))
    assert best == pytest.approx(rho)
    assert rank_agreement(pd.Series({"DE": 1.0, "FR": 2.0, "JP": 3.0}), pd.Series({"DE": 1.0, "FR": 1.0,
                                                                                   "JP": 1.0}))[0] != 0.0


def test_within_feature_recovery_per_feature_with_intervals_and_a_mean_row(fit):
    design, result = fit
    reference = pd.DataFrame({"discount_rate": dict(zip(COUNTRIES, SLOPES, strict=True)),
                              "rating": dict(zip(COUNTRIES, [0.2, 0.2, 0.2, 0.2, 0.2], strict=True))})
    table = within_feature_recovery(result.effects, user_bootstrap(design, result, 100), reference)
    # rating's planted slopes are equal: no order to recover, so it is left out.
    assert table["feature"].tolist() == ["discount_rate", "mean over features"]
    row = table.iloc[0]
    assert row["spearman"] == pytest.approx(1.0) and row["ci_low"] <= row["ci_high"] <= 1.0 and row["n_countries"] == 5


def test_vectorised_rows_equal_rank_agreement_row_by_row_with_ties_constants_and_gaps():
    rng = np.random.default_rng(0)
    draws = pd.DataFrame(rng.integers(0, 4, (60, 5)).astype(float), columns=COUNTRIES)  # many ties
    draws.iloc[3] = 1.0  # a constant row: no order, NaN
    draws.iloc[7, 2] = np.nan  # a replicate without JP: rho over the other four
    reference = pd.Series({"DE": 0.1, "FR": 0.3, "JP": 0.3, "KR": 0.7, "US": 0.9, "XX": 1.0})  # XX never drawn
    expected = np.array([rank_agreement(draws.loc[i], reference)[0] for i in draws.index])
    boot = draws.stack().rename("coef").rename_axis(["boot", "country"]).reset_index().assign(feature="f")
    effects = pd.DataFrame({"country": COUNTRIES, "feature": "f", "coef": SLOPES})
    table = within_feature_recovery(effects, boot, reference.to_frame("f"))
    assert np.isnan(expected[3]) and np.isfinite(expected[7])
    from culturecart.evaluate.bootstrap import interval

    lo, hi, _ = interval(table.loc[0, "spearman"], expected, bounds=(-1.0, 1.0))
    assert (table.loc[0, "ci_low"], table.loc[0, "ci_high"]) == pytest.approx((lo, hi))
    assert table.loc[0, "ci_low"] <= table.loc[0, "spearman"] <= table.loc[0, "ci_high"]
    complete = draws.drop(index=7)
    np.testing.assert_allclose(spearman_rows(complete.to_numpy(), reference[COUNTRIES].to_numpy()),
                               np.delete(expected, 7), rtol=1e-12)


def test_planted_sensitivities_map_the_indices_to_the_simulators_names():
    truth = {"countries": {"DE": {"sensitivity": {"rating": 0.3, "image_appeal": 0.5}},
                           "FR": {"sensitivity": {"rating": 0.4, "image_appeal": 0.2}}}}
    planted = planted_sensitivities(truth, ["DE", "FR", "XX"], ["rating", "image_index", "price"])
    assert list(planted.columns) == ["rating", "image_index"]
    assert planted.loc["FR", "image_index"] == 0.2 and "XX" not in planted.index


def test_nothing_planted_leaves_no_order_to_recover_and_an_empty_table_with_its_columns():
    effects = pd.DataFrame({"country": ["DE", "FR", "JP", "US"], "feature": "price", "coef": [-0.5, -0.7, -0.6, -0.4]})
    flat = pd.DataFrame({"price": [-0.6] * 4}, index=["DE", "FR", "JP", "US"])  # the same in every country
    out = within_feature_recovery(effects, None, flat)
    assert out.empty and list(out.columns) == ["feature", "spearman", "ci_low", "ci_high", "max_attainable",
                                               "n_countries"]
