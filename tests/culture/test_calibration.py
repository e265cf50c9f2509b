import numpy as np
import pandas as pd
import pytest

from culturecart.culture.calibration import (
    Generative,
    analyse_replicate,
    design_frame,
    design_of,
    draw_labels,
    estimable,
    fit_generative,
    replicate_seed,
)
from culturecart.culture.sensitivity import SensitivityDesign
from culturecart.culture.trust import claim_outcomes, false_positive_rates, power_table
from culturecart.data.hofstede import shipped_hofstede

COUNTRIES = ["DE", "FR", "GB", "JP", "KR", "US"]


def _design(slopes: dict[str, list[float]], n: int = 6000, seed: int = 0) -> SensitivityDesign:
    rng = np.random.default_rng(seed)
    c = rng.integers(0, len(COUNTRIES), n)
    x = pd.DataFrame({f: rng.normal(size=n) for f in slopes})
    eta = -0.4 + sum(np.asarray(b)[c] * x[f].to_numpy() for f, b in slopes.items())
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.int64)
    meta = pd.DataFrame({"country": np.array(COUNTRIES)[c], "user_id": (np.arange(n) // 4).astype(str),
                         "session_id": "s", "item_id": "i"})
    return SensitivityDesign(x, y, meta, {}, np.arange(n) * 2)


@pytest.fixture(scope="module")
def fitted():
    design = _design({"discount_rate": [0.1, 0.3, 0.5, 0.7, 0.9, 1.1], "rating": [0.4] * 6})
    return design, fit_generative(design)


def test_scales_move_the_linear_predictor_between_the_null_and_the_fitted_model(fitted):
    design, gen = fitted
    eta0, eta1 = gen.linear_predictor(design, 0.0), gen.linear_predictor(design, 1.0)
    np.testing.assert_allclose(gen.linear_predictor(design, 0.5), eta0 + 0.5 * (eta1 - eta0))
    np.testing.assert_allclose(gen.linear_predictor(design, 2.0), eta0 + 2.0 * (eta1 - eta0))
    null = gen.planted(0.0)
    assert null["discount_rate"].nunique() == 1 and null["baseline_propensity"].nunique() == 1
    # The fitted model recovers the planted slopes: at scale 1 the discount slopes rise with the country order.
    assert gen.planted(1.0)["discount_rate"].loc[COUNTRIES].is_monotonic_increasing
    # The null's pooled slope lies inside the fitted countries' range.
    assert gen.planted(1.0)["discount_rate"].min() < gen.null_coef["discount_rate"] < \
        gen.planted(1.0)["discount_rate"].max()


def test_generative_model_round_trips_through_json(fitted):
    _, gen = fitted
    assert Generative.from_dict(gen.to_dict()) == gen


def test_design_frame_round_trips_rows_labels_and_users(fitted):
    design, _ = fitted
    back = design_of(design_frame(design))
    pd.testing.assert_frame_equal(back.x, design.x)
    np.testing.assert_array_equal(back.y, design.y)
    np.testing.assert_array_equal(back.rows, design.rows)
    assert (back.meta["user_id"] == design.meta["user_id"]).all()
    kept = estimable(back, ["DE", "JP"])
    assert set(kept.meta["country"]) == {"DE", "JP"}
    np.testing.assert_array_equal(kept.rows, design.rows[design.meta["country"].isin(["DE", "JP"]).to_numpy()])


def test_labels_are_reproducible_per_replicate_and_follow_the_model(fitted):
    design, gen = fitted
    a = draw_labels(gen, design, 1.0, replicate_seed(0, 1.0, 3))
    np.testing.assert_array_equal(a, draw_labels(gen, design, 1.0, replicate_seed(0, 1.0, 3)))
    assert not np.array_equal(a, draw_labels(gen, design, 1.0, replicate_seed(0, 1.0, 4)))
    assert replicate_seed(0, 0.5, 1) != replicate_seed(0, 1.0, 1)
    p = 1 / (1 + np.exp(-gen.linear_predictor(design, 1.0)))
    assert abs(a.mean() - p.mean()) < 0.02


def test_replicates_are_reproducible_and_null_tests_rarely_fire_while_planted_ones_do(fitted):
    design, gen = fitted
    profiles = shipped_hofstede().loc[COUNTRIES]
    first = analyse_replicate(design, gen, 0.0, 0, profiles=profiles)
    assert first == analyse_replicate(design, gen, 0.0, 0, profiles=profiles)
    reps = [analyse_replicate(design, gen, 0.0, r, profiles=profiles) for r in range(12)]
    reps += [analyse_replicate(design, gen, 1.0, r, profiles=profiles) for r in range(4)]
    assert not any(r["error"] for r in reps)
    outcomes = claim_outcomes(reps, gen, profiles, 0.05, 0.1)
    fpr = false_positive_rates(outcomes, {}).set_index("family")
    assert fpr.loc["heterogeneity", "tests"] == 24  # 2 features x 12 null replicates
    assert fpr.loc["heterogeneity", "fpr"] <= 0.25
    power = power_table(outcomes).set_index(["family", "scale"])
    # discount's slopes differ by 1.0 across countries: the Wald test finds it in every planted replicate.
    het = outcomes[(outcomes["family"] == "heterogeneity") & (outcomes["scale"] == 1.0)]
    assert het[het["test"] == "discount_rate"]["detected"].all()
    assert power.loc[("heterogeneity", 1.0), "power"] >= 0.5


def test_a_replicate_the_logit_cannot_fit_is_reported_not_raised(fitted):
    design, gen = fitted
    out = analyse_replicate(design, gen, 0.0, 0, profiles=shipped_hofstede(), min_rows=10 ** 6)
    assert out["error"] and "estimation rows" in out["error"]
