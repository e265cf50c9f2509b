"""Folders written before the persistence contract (``tests/fixtures/legacy``, see its README): every kind there
loads and gives exactly the scores it gave when it was written; saving it again writes today's format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from culturecart.persist import read_header

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
PREDICTORS = ["predictor", "predictor-logistic-culture", "predictor-mlp-local"]
RANKERS = ["popularity", "itemknn", "ease", "als", "bpr", "rerank"]


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CULTURECART_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("name", PREDICTORS)
def test_old_predictors_load_and_score_as_before(name, tmp_path):
    from culturecart.predictor import PREDICTOR_FORMAT, PurchasePredictor

    assert read_header(LEGACY / name)["format"] == 1
    predictor = PurchasePredictor.load(LEGACY / name)
    scores = predictor.score(LEGACY / "data" / "events")
    expected = pd.read_csv(LEGACY / "expected" / f"{name}.csv", dtype={"session_id": str, "user_id": str,
                                                                        "item_id": str})
    pd.testing.assert_frame_equal(scores[expected.columns.tolist()], expected, check_exact=False, rtol=1e-12)
    resaved = predictor.save(tmp_path / "again")
    assert read_header(resaved)["format"] == PREDICTOR_FORMAT
    again = PurchasePredictor.load(resaved).score(LEGACY / "data" / "events")
    np.testing.assert_array_equal(again["p_purchase"], scores["p_purchase"])


@pytest.mark.parametrize("model", RANKERS)
def test_old_xmarket_models_load_and_score_as_before(model):
    from culturecart.ranking.crossmarket import load_model, score_run
    from culturecart.ranking.markets import read_run

    ranker, info = load_model(LEGACY / f"xmarket-{model}")
    assert info == {"target": "de", "sources": {"fr": 1.0}, "model": model}
    scores = score_run(ranker, read_run(LEGACY / "data" / "markets" / "de" / "valid_run.tsv"))
    expected = pd.read_csv(LEGACY / "expected" / f"xmarket-{model}.tsv", sep="\t", dtype={"userId": str,
                                                                                         "itemId": str})
    pd.testing.assert_frame_equal(scores.reset_index(drop=True), expected, check_exact=False, rtol=1e-6)


def test_old_matching_model_loads_and_matches_as_before():
    from culturecart.data.adapters.shopee import read_shopee
    from culturecart.matching.model import MatchingModel

    model = MatchingModel.load(LEGACY / "matching")
    listings = LEGACY / "data" / "listings"
    frame = read_shopee(listings / "shopee.csv").drop(columns=["label_group"])
    got = model.predict(frame, listings / "images")
    expected = pd.read_csv(LEGACY / "expected" / "matching.csv", dtype=str)
    pd.testing.assert_frame_equal(got, expected)


def test_an_old_truncated_booster_is_refused_not_fed_to_lightgbm(tmp_path):
    import shutil

    from culturecart.errors import InvalidInputError
    from culturecart.predictor import PurchasePredictor

    copy = tmp_path / "old"
    shutil.copytree(LEGACY / "predictor", copy)
    booster = copy / "model" / "pooled" / "booster.txt"
    booster.write_bytes(booster.read_bytes()[: booster.stat().st_size // 2])
    with pytest.raises(InvalidInputError, match="booster.txt is damaged"):
        PurchasePredictor.load(copy)
