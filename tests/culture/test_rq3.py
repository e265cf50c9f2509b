import numpy as np
import pytest

from culturecart.culture import compare_scopes, cultural_fit_interval, cultural_fit_score


def test_cultural_fit_score_hand_case():
    assert cultural_fit_score(0.8, 0.9) == pytest.approx(0.75)
    assert cultural_fit_score(0.95, 0.9) == pytest.approx(1.125)  # better than the best local model
    assert np.isnan(cultural_fit_score(0.7, 0.5))


def test_cultural_fit_interval_brackets_the_estimate():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    best = y + rng.normal(0, 0.8, 400)
    other = y + rng.normal(0, 1.5, 400)
    ci = cultural_fit_interval(y, other, best, clusters=np.arange(400) // 4, n_boot=200)
    from sklearn.metrics import roc_auc_score
    expected = (roc_auc_score(y, other) - 0.5) / (roc_auc_score(y, best) - 0.5)
    assert ci.estimate == pytest.approx(expected)
    assert ci.low < ci.estimate < ci.high < 1.0


def test_compare_scopes_table_winners_and_bh(sim_features, sim_split):
    res = compare_scopes(sim_features, sim_split, "lightgbm", n_boot=50, learning_rate=0.1, n_estimators=200,
                         early_stopping_rounds=20)
    t = res.table
    countries = sorted(set(sim_features.rows(sim_split.test).meta["country"]))
    assert sorted(res.winners["country"]) == countries
    auc = t[t["metric"] == "roc_auc"]
    assert set(auc["scope"]) == {"global", "local", "culture", "finetune"}
    assert (auc["ci_low"] <= auc["value"]).all() and (auc["value"] <= auc["ci_high"]).all()
    delta = t[t["metric"] == "auc_delta_vs_global"]
    assert (delta["p_adjusted"] >= delta["p_value"] - 1e-12).all()
    cfs = t[t["metric"] == "cultural_fit_score"]
    for country in countries:
        c = cfs[cfs["country"] == country]
        specific = c[c["scope"].isin(["local", "finetune"])]
        assert specific["value"].max() == pytest.approx(1.0)
    w = res.winners.iloc[0]
    assert w["auc_winner"] >= w["auc_runner_up"]
    assert (res.winners["p_adjusted"] >= res.winners["p_value"] - 1e-12).all()


def test_compare_scopes_rejects_unknown_scope(sim_features, sim_split):
    with pytest.raises(ValueError, match="valid"):
        compare_scopes(sim_features, sim_split, scopes=("global", "planet"))
