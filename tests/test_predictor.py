"""PurchasePredictor: fit on one marketplace, score another; save/load; chunk and order invariance; refusals."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from culturecart import PurchasePredictor
from culturecart.data import Dataset
from culturecart.data.simulate import SimulationConfig, write_marketplace
from culturecart.errors import InvalidInputError, UsageError
from tests.helpers import invoke


@pytest.fixture(scope="module")
def markets(tmp_path_factory):
    root = tmp_path_factory.mktemp("markets")
    write_marketplace(root / "train", SimulationConfig(n_users=240, n_products=50, countries=["KR", "US", "DE"],
                                                       seed=11))
    write_marketplace(root / "new", SimulationConfig(n_users=90, n_products=40, countries=["KR", "US", "JP"],
                                                     seed=12))
    return root


@pytest.fixture(scope="module")
def fast(tmp_path_factory):
    return {"text": {"name": "char-hash"}, "image": {"name": "image-hash"},
            "cache_dir": str(tmp_path_factory.mktemp("cache"))}


@pytest.fixture(scope="module")
def fitted(markets, fast):
    return PurchasePredictor("lightgbm", encoders=fast, n_estimators=60).fit(markets / "train")


def test_scores_a_marketplace_with_new_users_items_and_a_new_country(fitted, markets):
    new = Dataset.load(markets / "new")
    p = fitted.predict_proba(new)
    assert p.shape == (len(new.events),) and np.all((p > 0) & (p < 1))
    assert roc_auc_score(new.events["purchased"], p) > 0.6  # the planted offer/behaviour effects transfer
    table = fitted.evaluate(new, n_boot=20)
    auc = table.set_index("metric").loc["roc_auc"]
    assert auc["ci_low"] <= auc["value"] <= auc["ci_high"] and auc["rows"] == len(new.events)


def test_save_load_gives_identical_probabilities(fitted, markets, tmp_path):
    fitted.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"predictor.json", "featurizer", "model"}
    info = json.loads((tmp_path / "m" / "predictor.json").read_text())
    assert info["kind"] == "predictor" and info["format"] == 2 and info["training"]
    assert info["state"]["encoders"]["items.title"].startswith("char-hash") and info["state"]["training_fingerprint"]
    back = PurchasePredictor.load(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(markets / "new"), fitted.predict_proba(markets / "new"))


@pytest.mark.parametrize("model", ["lightgbm", "logistic"])
def test_scores_do_not_depend_on_chunks_or_row_order(markets, fast, model):
    predictor = PurchasePredictor(model, encoders=fast, n_estimators=30).fit(markets / "train") \
        if model == "lightgbm" else PurchasePredictor(model, encoders=fast).fit(markets / "train")
    full = Dataset.load(markets / "new")
    # 400 events over whole sessions keep the chunk-of-1 run short; user history still spans several sessions.
    keep = full.events["session_id"].isin(full.events["session_id"].drop_duplicates().head(40))
    new = Dataset(users=full.users, items=full.items, reviews=full.reviews, meta=full.meta, root=full.root,
                  events=full.events[keep].reset_index(drop=True))
    whole = predictor.predict_proba(new)
    for chunk in (1, 7, 1000):
        np.testing.assert_allclose(predictor.predict_proba(new, chunk_size=chunk), whole, rtol=0, atol=1e-6)
    order = np.random.default_rng(0).permutation(len(new.events))
    shuffled = Dataset(users=new.users, items=new.items, reviews=new.reviews, meta=new.meta, root=new.root,
                       events=new.events.iloc[order].reset_index(drop=True))
    back = np.empty_like(whole)
    back[order] = predictor.predict_proba(shuffled, chunk_size=50)
    np.testing.assert_allclose(back, whole, rtol=0, atol=1e-6)


def test_a_dataset_without_images_is_scored_with_the_image_modality_masked(fitted, markets, tmp_path):
    copy = tmp_path / "noimg"
    shutil.copytree(markets / "new", copy, ignore=shutil.ignore_patterns("images"))
    for table in ("items", "reviews"):
        frame = pd.read_parquet(copy / f"{table}.parquet").drop(columns=["image_path"])
        frame.to_parquet(copy / f"{table}.parquet", index=False)
    p = fitted.predict_proba(copy)
    assert np.all((p > 0) & (p < 1))
    _, _, chunks = fitted.iter_features(copy)
    _, data = next(chunks)
    assert "image" in data.blocks and not data.present["image"].any()  # masked, not zero-filled
    assert len(fitted.explain(copy)) == len(p)


def test_explain_adds_up_to_the_raw_score_for_lightgbm(fitted, markets):
    from culturecart.models.base import logit

    explained = fitted.explain(markets / "new").head(200)
    p = fitted.predict_proba(markets / "new")[:200]
    total = explained[["offer", "consumer", "behaviour", "text", "image", "bias"]].sum(axis=1)
    np.testing.assert_allclose(total, logit(p), atol=1e-4)


def test_predict_fits_nothing(fitted, markets, monkeypatch):
    import sklearn.decomposition

    from culturecart.models.featurizer import Featurizer

    def refuse(*args, **kwargs):
        raise AssertionError("something was fitted at predict time")

    monkeypatch.setattr(Featurizer, "fit", refuse)
    monkeypatch.setattr(sklearn.decomposition.PCA, "fit", refuse)
    monkeypatch.setattr(type(fitted.model_.pooled), "fit", refuse)
    assert len(fitted.predict_proba(markets / "new")) > 0


def test_missing_columns_give_a_clear_error(fitted, markets, tmp_path):
    copy = tmp_path / "nopos"
    shutil.copytree(markets / "new", copy)
    pd.read_parquet(copy / "events.parquet").drop(columns=["position"]).to_parquet(copy / "events.parquet")
    with pytest.raises(InvalidInputError, match=r"events: column\(s\) \['position'\]"):
        fitted.predict_proba(copy)
    reordered = tmp_path / "reordered"
    shutil.copytree(markets / "new", reordered)
    items = pd.read_parquet(reordered / "items.parquet")
    items[items.columns[::-1]].to_parquet(reordered / "items.parquet")  # columns are matched by name
    np.testing.assert_array_equal(fitted.predict_proba(reordered), fitted.predict_proba(markets / "new"))


def test_modality_columns_out_of_order_are_refused(fitted, markets):
    from dataclasses import replace

    from culturecart.models.preprocess import Preprocessor
    from culturecart.models.tabular import LogisticModel

    _, _, chunks = fitted.iter_features(markets / "new")
    _, data = next(chunks)
    model = LogisticModel().fit(data)
    names = dict(data.names)
    names["offer"] = names["offer"][::-1]
    with pytest.raises(InvalidInputError, match="offer columns differ"):
        model.predict_proba(replace(data, names=names))
    assert isinstance(model.pre_, Preprocessor)


def test_culture_scope_scores_an_unseen_country_from_its_profile(markets, fast):
    predictor = PurchasePredictor("logistic", encoders=fast, scope="culture").fit(markets / "train")
    new = Dataset.load(markets / "new")
    p = predictor.predict_proba(new)
    jp = new.events["user_id"].map(new.users.set_index("user_id")["country"]) == "JP"
    assert jp.any() and np.isfinite(p[jp.to_numpy()]).all()


def test_incompatible_folders_and_encoders_are_refused(fitted, markets, tmp_path):
    from culturecart.persist import _header_checksum

    fitted.save(tmp_path / "m")
    info = json.loads((tmp_path / "m" / "predictor.json").read_text())
    newer = {**info, "format": 99}
    (tmp_path / "m" / "predictor.json").write_text(json.dumps({**newer, "checksum": _header_checksum(newer)}))
    with pytest.raises(InvalidInputError, match="predictor format 99; this culturecart .* reads predictor format 2"):
        PurchasePredictor.load(tmp_path / "m")
    (tmp_path / "m" / "predictor.json").write_text(json.dumps(newer))  # changed by hand: damaged
    with pytest.raises(InvalidInputError, match="predictor.json is damaged"):
        PurchasePredictor.load(tmp_path / "m")
    fitted.save(tmp_path / "m2")
    other = PurchasePredictor.load(tmp_path / "m2")
    other.featurizer_.projections_["items.title"].encoder = "char-hash-v0"
    with pytest.raises(InvalidInputError, match="char-hash-v0"):
        other.predict_proba(markets / "new")
    with pytest.raises(UsageError, match="not fitted"):
        PurchasePredictor().predict_proba(markets / "new")


def test_cli_fit_then_predict_with_evaluation(markets, fast, tmp_path):
    cfg = tmp_path / "p.yaml"
    cfg.write_text(json.dumps({"encoders": fast, "options": {"n_estimators": 40}}))
    invoke("fit", markets / "train", "--config", cfg, "--out", tmp_path / "m", exit_code=0)
    res = invoke("predict", markets / "new", "--model-dir", tmp_path / "m", "--out", tmp_path / "s.csv",
                 "--evaluate", exit_code=0)
    scored = json.loads(res.stdout.strip().splitlines()[-1])
    assert scored["rows"] == len(pd.read_csv(tmp_path / "s.csv")) and 0.5 < scored["auc"] <= 1
    rows = f"{scored['rows']:,}/{scored['rows']:,} rows"
    assert f"predict: {rows}" in res.stderr and "rows/s" in res.stderr  # progress on stderr, off a terminal
    assert list(pd.read_csv(tmp_path / "s.csv").columns) == ["session_id", "user_id", "item_id", "p_purchase"]
    invoke("predict", markets / "new", "--model-dir", tmp_path / "m", "--out", tmp_path / "s.parquet", exit_code=0)
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == len(pd.read_csv(tmp_path / "s.csv"))
    invoke("predict", markets / "new", "--model-dir", tmp_path / "none", "--out", tmp_path / "x.csv", exit_code=1,
           names=("does not exist",))
    invoke("predict", markets / "new", "--model-dir", tmp_path / "m", "--out", tmp_path / "x.txt", exit_code=2)
    invoke("fit", markets / "train", "--model", "bert", "--out", tmp_path / "m3", exit_code=2, names=("bert",))


def test_a_config_beside_other_settings_is_refused_not_ignored():
    from culturecart.predictor import PredictorConfig

    with pytest.raises(UsageError, match="either config= or the settings"):
        PurchasePredictor("logistic", config=PredictorConfig())
    with pytest.raises(UsageError, match="either config= or the settings"):
        PurchasePredictor(config=PredictorConfig(), n_estimators=5)
    fitted_later = PurchasePredictor("lightgbm", n_estimators=5, embedding_dim=8)  # settings go where they belong
    assert fitted_later.config.options == {"n_estimators": 5} and fitted_later.config.embedding_dim == 8
    assert "not fitted" in repr(fitted_later)
    from culturecart.errors import ConfigError

    with pytest.raises(ConfigError, match="n_estimatorz: unknown option"):
        PurchasePredictor("lightgbm", n_estimatorz=5)  # checked now, not after fitting the featurizer


def test_a_dataframe_in_and_a_series_aligned_with_its_index_out(tmp_path, fast):
    from culturecart.errors import UsageError
    from culturecart.testing import flat_table

    df = flat_table(n_users=80)
    df.index = pd.RangeIndex(1000, 1000 + len(df))[::-1]  # the caller's own index
    model = PurchasePredictor(label="bought", user="customer", item="sku", country="nation", time="when",
                              offer=["price", "discount", "category"], text=["title"], consumer=["age"],
                              behaviour=["dwell"], encoders=fast, n_estimators=30)
    assert "not fitted" in repr(model) and "label='bought'" in repr(model)
    model.fit(df)
    assert "fitted on" in repr(model)
    p = model.predict_proba(df)
    assert isinstance(p, pd.Series) and p.index.equals(df.index) and p.between(0, 1).all()
    unlabelled = df.drop(columns="bought").sample(frac=1.0, random_state=0)
    assert model.predict_proba(unlabelled).index.equals(unlabelled.index)
    metrics = model.evaluate(df).set_index("metric")
    assert metrics.loc["roc_auc", "ci_low"] <= metrics.loc["roc_auc", "value"] <= metrics.loc["roc_auc", "ci_high"]
    assert model.explain(df).index.equals(df.index)
    model.save(tmp_path / "m")
    again = PurchasePredictor.load(tmp_path / "m")
    assert again.config.roles == model.config.roles
    pd.testing.assert_series_equal(again.predict_proba(df), p)
    with pytest.raises(UsageError, match="expected a pandas DataFrame, a culturecart Dataset or a dataset folder"):
        model.predict_proba([1, 2, 3])
    with pytest.raises(UsageError, match="needs its columns' roles"):
        PurchasePredictor(encoders=fast).fit(df)
    with pytest.raises(UsageError, match="item="):
        PurchasePredictor(label="bought")
