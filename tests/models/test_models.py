from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from culturecart.evaluate.metrics import ece
from culturecart.models import LADDER, PurchaseModel, create_model

FAST = {"epochs": 4, "patience": 2}


def _fit(name, data, split, **kw):
    extra = FAST if create_model(name).name in ("mlp", "transformer") else {}
    return create_model(name, **{**extra, **kw}).fit(data.rows(split.train), data.rows(split.valid))


@pytest.mark.parametrize("spec", LADDER, ids=lambda s: s.name)
def test_every_ladder_model_learns(spec, sim_features, sim_split):
    model = _fit(spec.name, sim_features, sim_split)
    test = sim_features.rows(sim_split.test)
    p = model.predict_proba(test)
    assert p.shape == (test.n,) and np.isfinite(p).all() and ((p >= 0) & (p <= 1)).all()
    floor = 0.5 if spec.name == "consumer_only" else 0.6  # consumer attributes carry little planted signal
    assert roc_auc_score(test.y, p) > floor


@pytest.mark.parametrize("name", ["lightgbm", "mlp", "transformer", "late_fusion", "logistic"])
def test_same_seed_same_numbers_and_save_load(name, sim_features, sim_split, tmp_path):
    test = sim_features.rows(sim_split.test)
    a = _fit(name, sim_features, sim_split).predict_proba(test)
    model = _fit(name, sim_features, sim_split)
    np.testing.assert_array_equal(a, model.predict_proba(test))
    model.save(tmp_path / name)
    loaded = PurchaseModel.load(tmp_path / name)
    np.testing.assert_allclose(loaded.predict_proba(test), a, rtol=1e-6, atol=1e-7)


def test_saved_arrays_need_no_pickle(sim_features, sim_split, tmp_path):
    _fit("transformer", sim_features, sim_split).save(tmp_path / "t")
    with np.load(tmp_path / "t" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[k].dtype != object for k in arrays.files)
    assert (tmp_path / "t" / "weights.safetensors").exists()


def test_platt_calibration_fixes_class_weighting(sim_features, sim_split):
    test = sim_features.rows(sim_split.test)
    raw = _fit("mlp", sim_features, sim_split, calibration="none").predict_proba(test)
    cal = _fit("mlp", sim_features, sim_split, calibration="platt").predict_proba(test)
    assert ece(test.y, cal) < ece(test.y, raw)  # balanced loss inflates raw probabilities


def test_transformer_attention_and_masks(sim_features, sim_split):
    model = _fit("transformer", sim_features, sim_split)
    test = sim_features.rows(sim_split.test[:200])
    shares = model.attention_shares(test)
    assert set(shares) == set(sim_features.modalities) and sum(shares.values()) == pytest.approx(1.0, abs=1e-4)
    no_image = test.rows(np.arange(test.n))
    no_image.present = {**test.present, "image": np.zeros(test.n, bool)}
    weights, token_mod = model.attention(no_image)
    assert np.allclose(weights[:, np.array(token_mod) == "image"], 0.0)  # masked tokens get no attention
    assert np.isfinite(model.predict_proba(no_image)).all()


def test_integrated_gradients_completeness(sim_features, sim_split):
    model = _fit("mlp", sim_features, sim_split)
    test = sim_features.rows(sim_split.test[:50])
    attr = model.integrated_gradients(test, steps=64)
    total = sum(a.sum(axis=1) for a in attr.values())
    blocks, masks = model.pre_.transform(model._inputs(test))
    zero = {m: np.zeros_like(b) for m, b in blocks.items()}
    expected = model._logits(blocks, masks) - model._logits(zero, masks)
    np.testing.assert_allclose(total, expected, atol=2e-2)


def test_unknown_config_key_is_named():
    from culturecart.errors import ConfigError

    with pytest.raises(ConfigError, match=r"model:lightgbm: n_trees: unknown option \(valid: .*n_estimators"):
        create_model("lightgbm", n_trees=10)
    with pytest.raises(ConfigError, match="unknown model 'bert4rec'; choose one of: logistic"):
        create_model("bert4rec")


def test_late_fusion_takes_a_model_per_modality(sim_features, sim_split, tmp_path):
    bases = {"text": {"model": "logistic", "C": 0.5}, "image": {"model": "logistic"}}
    model = _fit("late_fusion", sim_features, sim_split, bases=bases)
    assert model.base_["text"].name == "logistic" and model.base_["text"].config.C == 0.5
    assert model.base_["offer"].name == "lightgbm"  # the default base elsewhere
    test = sim_features.rows(sim_split.test)
    model.save(tmp_path / "lf")
    loaded = PurchaseModel.load(tmp_path / "lf")
    assert loaded.base_["text"].name == "logistic"
    np.testing.assert_allclose(loaded.predict_proba(test), model.predict_proba(test), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["transformer", "mlp"])
def test_fast_dropout_models_learn_reproduce_and_reload(name, sim_features, sim_split, tmp_path):
    test = sim_features.rows(sim_split.test)
    model = _fit(name, sim_features, sim_split, fast_dropout=True)
    p = model.predict_proba(test)
    assert roc_auc_score(test.y, p) > 0.6
    np.testing.assert_array_equal(p, _fit(name, sim_features, sim_split, fast_dropout=True).predict_proba(test))
    assert not np.array_equal(p, _fit(name, sim_features, sim_split).predict_proba(test))  # another stream
    model.save(tmp_path / name)
    loaded = PurchaseModel.load(tmp_path / name)
    assert loaded.config.fast_dropout
    np.testing.assert_allclose(loaded.predict_proba(test), p, rtol=1e-6, atol=1e-7)


def _feature_ranges(model) -> str:
    text = model.booster_.model_to_string()
    return next(line for line in text.splitlines() if line.startswith("feature_infos="))


def test_lightgbm_fit_subset_bins_on_the_pool_once(sim_features, sim_split):
    from culturecart.models import tabular

    pool = sim_features.rows(np.sort(sim_split.train))
    valid = sim_features.rows(sim_split.valid)
    first_offer = np.asarray(pool.blocks["offer"][:, 0])
    cheap = np.flatnonzero(first_offer <= np.nanmedian(first_offer))  # a subset with a narrower range
    settings = {"n_estimators": 30, "learning_rate": 0.1}
    tabular._POOLS.clear()
    first = create_model("lightgbm", **settings).fit_subset(pool, cheap, valid)
    assert len(tabular._POOLS) == 2 * len(pool.modalities)  # each modality's training and validation block
    again = create_model("lightgbm", **settings).fit_subset(pool, cheap, valid)
    assert len(tabular._POOLS) == 2 * len(pool.modalities)  # binned once, reused
    assert np.array_equal(first.predict_proba(valid), again.predict_proba(valid))
    own_bins = create_model("lightgbm", **settings).fit(pool.rows(cheap), valid)
    pool_fit = create_model("lightgbm", **settings).fit(pool, valid)
    # the ranges LightGBM records per feature are the pool's, not those of the rows it trained on
    assert _feature_ranges(first) == _feature_ranges(pool_fit) != _feature_ranges(own_bins)
    assert roc_auc_score(valid.y, first.predict_proba(valid)) > 0.6
    every_row = create_model("lightgbm", **settings).fit_subset(pool, np.arange(pool.n), valid)
    assert np.array_equal(every_row.predict_proba(valid), pool_fit.predict_proba(valid))


def test_lightgbm_keeps_binned_blocks_within_its_cell_budget(sim_features, sim_split, monkeypatch):
    from culturecart.models import tabular

    pool, valid = sim_features.rows(np.sort(sim_split.train)), sim_features.rows(sim_split.valid)
    settings = {"n_estimators": 20, "learning_rate": 0.1}
    tabular._POOLS.clear()
    kept_all = create_model("lightgbm", **settings).fit(pool, valid)
    cells = [d.num_data() * d.num_feature() for d in tabular._POOLS.values()]
    assert len(cells) == 2 * len(pool.modalities)
    monkeypatch.setattr(tabular, "POOL_CELLS", max(cells))
    tabular._POOLS.clear()
    bounded = create_model("lightgbm", **settings).fit(pool, valid)
    kept = [d.num_data() * d.num_feature() for d in tabular._POOLS.values()]
    assert 1 <= len(kept) < len(cells) and (sum(kept) <= max(cells) or len(kept) == 1)
    assert np.array_equal(kept_all.predict_proba(valid), bounded.predict_proba(valid))  # eviction is only memory
    tabular._POOLS.clear()


def _trees(booster) -> str:
    return booster.model_to_string().split("Tree=0", 1)[1].split("end of trees", 1)[0]


@pytest.mark.parametrize("rows", [None, "every other"])
def test_lightgbm_on_binned_blocks_grows_the_trees_of_one_matrix(sim_features, sim_split, rows):
    """Each modality binned on its own and joined (add_features_from) gives the trees LightGBM grows on the
    joined matrix: the blocks hold sparse one-hot columns (bundled by LightGBM) and a constant column."""
    import lightgbm as lgb

    from culturecart.models import tabular

    pool, valid = sim_features.rows(np.sort(sim_split.train)), sim_features.rows(sim_split.valid)
    constant = {**pool.blocks, "behaviour": np.column_stack([np.asarray(pool.blocks["behaviour"]), np.ones(pool.n)])}
    pool = replace(pool, blocks=constant, names={**pool.names, "behaviour": [*pool.names["behaviour"], "one"]})
    valid_constant = np.column_stack([np.asarray(valid.blocks["behaviour"]), np.ones(valid.n)])
    valid = replace(valid, blocks={**valid.blocks, "behaviour": valid_constant},
                    names={**valid.names, "behaviour": [*valid.names["behaviour"], "one"]})
    subset = np.arange(0, pool.n, 2) if rows else np.arange(pool.n)
    tabular._POOLS.clear()
    model = create_model("lightgbm", n_estimators=40, learning_rate=0.1, early_stopping_rounds=5)
    model = model.fit_subset(pool, subset, valid) if rows else model.fit(pool, valid)
    params = {**model._params(0.1), "metric": "auc"}
    names = [f"f{i}" for i in range(len(model.feature_names_))]
    train = lgb.Dataset(model._matrix(pool), pool.y, feature_name=names, params=params)
    train = train.construct().subset(subset) if rows else train
    direct = lgb.train(params, train, num_boost_round=40, valid_sets=[lgb.Dataset(model._matrix(valid), valid.y,
                                                                                  reference=train)],
                       callbacks=[lgb.early_stopping(5, verbose=False)])
    assert model.booster_.best_iteration == direct.best_iteration > 1
    assert _trees(model.booster_) == _trees(direct)
    assert model.booster_.model_to_string() == direct.model_to_string()  # feature names and ranges too


def test_fit_subset_of_a_model_without_bins_is_fit_on_those_rows(sim_features, sim_split):
    pool = sim_features.rows(sim_split.train)
    rows = np.arange(0, pool.n, 3)
    a = create_model("logistic").fit_subset(pool, rows).predict_proba(sim_features.rows(sim_split.test))
    b = create_model("logistic").fit(pool.rows(rows)).predict_proba(sim_features.rows(sim_split.test))
    assert np.array_equal(a, b)


def test_lightgbm_fits_with_other_seeds_share_a_binned_pool(sim_features, sim_split):
    from culturecart.models import tabular

    pool, valid = sim_features.rows(np.sort(sim_split.train)), sim_features.rows(sim_split.valid)
    rows = np.arange(0, pool.n, 2)
    settings = {"n_estimators": 30, "learning_rate": 0.1}
    tabular._POOLS.clear()
    create_model("lightgbm", seed=0, **settings).fit_subset(pool, rows, valid)
    shared = create_model("lightgbm", seed=1, **settings).fit_subset(pool, rows, valid)
    assert len(tabular._POOLS) == 2 * len(pool.modalities)  # every row learns the bins: the seed plays no part
    tabular._POOLS.clear()
    alone = create_model("lightgbm", seed=1, **settings).fit_subset(pool, rows, valid)
    assert np.array_equal(shared.predict_proba(valid), alone.predict_proba(valid))
