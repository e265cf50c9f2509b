import numpy as np
import pytest

from culturecart.culture import SCOPES, fit_scope, with_culture, without_country
from culturecart.data.hofstede import DIMENSIONS
from culturecart.models.registry import create_model

FAST = {"learning_rate": 0.1, "early_stopping_rounds": 20, "n_estimators": 200}


def test_with_culture_swaps_country_for_hofstede(sim_features):
    d = with_culture(sim_features)
    names = d.names["consumer"]
    assert not any(n.startswith("country=") for n in names)
    assert [n for n in names if n.startswith("hofstede_")] == [f"hofstede_{x}" for x in DIMENSIONS]
    de = np.flatnonzero(sim_features.meta["country"].to_numpy() == "DE")[0]
    assert d.blocks["consumer"][de, names.index("hofstede_uai")] == pytest.approx(0.65)
    assert not any(n.startswith("country=") for n in without_country(sim_features).names["consumer"])


def test_country_without_profile_is_missing_and_warned(sim_features):
    data = sim_features.rows(np.arange(50))
    data.meta.loc[0, "country"] = "ZZ"
    with pytest.warns(UserWarning, match="ZZ"):
        d = with_culture(data)
    assert np.isnan(d.blocks["consumer"][0, -6:]).all()
    assert np.isfinite(d.blocks["consumer"][1, -6:]).all()


def test_unknown_scope_names_valid_ones(sim_features, sim_split):
    with pytest.raises(ValueError, match="valid"):
        fit_scope("regional", "lightgbm", sim_features.rows(sim_split.train))


def test_culture_scope_scores_a_country_never_seen(sim_features, sim_split):
    country = sim_features.meta["country"].to_numpy()
    train_rows = sim_split.train[country[sim_split.train] != "KR"]
    scoped = fit_scope("culture", "lightgbm", sim_features.rows(train_rows), sim_features.rows(sim_split.valid),
                       **FAST)
    kr = sim_features.rows(sim_split.test[country[sim_split.test] == "KR"])
    p = scoped.predict_proba(kr)
    assert kr.n > 0 and np.isfinite(p).all() and p.std() > 0


def test_local_scope_routes_rows_and_skips_small_countries(sim_features, sim_split):
    train = sim_features.rows(sim_split.train)
    with pytest.warns(UserWarning, match="no own model"):
        scoped = fit_scope("local", "logistic", train, min_country_rows=10**9)
    assert not scoped.per_country and set(scoped.skipped) == set(train.meta["country"])
    scoped = fit_scope("local", "logistic", train, min_country_rows=10)
    test = sim_features.rows(sim_split.test)
    p = scoped.predict_proba(test)
    assert np.isfinite(p).all()
    de = test.meta["country"].to_numpy() == "DE"
    assert np.allclose(p[de], scoped.per_country["DE"].predict_proba(test.rows(np.flatnonzero(de))))


def test_finetune_changes_only_its_country_and_keeps_the_pooled_model(sim_features, sim_split):
    train, valid, test = (sim_features.rows(s) for s in (sim_split.train, sim_split.valid, sim_split.test))
    pooled_before = create_model("lightgbm", seed=0, **FAST).fit(train, valid).predict_proba(test)
    scoped = fit_scope("finetune", "lightgbm", train, valid, countries=["DE"], min_country_rows=10, **FAST)
    p = scoped.predict_proba(test)
    de = test.meta["country"].to_numpy() == "DE"
    assert np.allclose(scoped.pooled.predict_proba(test), pooled_before)
    assert np.allclose(p[~de], pooled_before[~de])
    assert not np.allclose(p[de], pooled_before[de])


def test_neural_models_fine_tune_and_logistic_says_it_cannot(sim_features, sim_split):
    train, valid = sim_features.rows(sim_split.train), sim_features.rows(sim_split.valid)
    mlp = create_model("mlp", epochs=2, modalities=["offer", "consumer"]).fit(train, valid)
    tuned = mlp.fine_tune(train.rows(np.arange(500)), valid)
    assert tuned is not mlp and tuned.best_valid_auc_ >= mlp.best_valid_auc_ - 1e-12
    with pytest.raises(NotImplementedError, match="cannot be fine-tuned"):
        create_model("logistic").fit(train).fine_tune(train)


def test_every_scope_is_deterministic(sim_features, sim_split):
    train, test = sim_features.rows(sim_split.train), sim_features.rows(sim_split.test)
    for scope in SCOPES:
        a = fit_scope(scope, "lightgbm", train, countries=["DE", "KR"], min_country_rows=10, n_estimators=30)
        b = fit_scope(scope, "lightgbm", train, countries=["DE", "KR"], min_country_rows=10, n_estimators=30)
        pa, pb = a.predict_proba(test), b.predict_proba(test)
        assert np.array_equal(np.nan_to_num(pa, nan=-1), np.nan_to_num(pb, nan=-1)), scope


def test_scopes_fit_on_rows_of_a_pool(sim_features, sim_split):
    pool = sim_features.rows(np.sort(sim_split.train))
    rows = np.arange(0, pool.n, 2)
    valid, test = sim_features.rows(sim_split.valid), sim_features.rows(sim_split.test)
    pooled = fit_scope("culture", "lightgbm", pool, valid, rows=rows, **FAST)
    direct = create_model("lightgbm", **FAST).fit_subset(with_culture(pool), rows, with_culture(valid))
    assert np.array_equal(pooled.predict_proba(test), direct.predict_proba(with_culture(test)))
    local = fit_scope("local", "lightgbm", pool, valid, rows=rows, **FAST)  # per country: those rows only
    alone = fit_scope("local", "lightgbm", pool.rows(rows), valid, **FAST)
    assert np.array_equal(local.predict_proba(test), alone.predict_proba(test), equal_nan=True)
