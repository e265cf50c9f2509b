"""Folders written before the persistence contract (``tests/fixtures/legacy``, see its README): every kind there
loads and gives the scores it gave when it was written, to float32 precision (the models compute in float32, and
another install of numpy or torch may sum in another order: a few units in the last place); saving it again writes
today's format, which then scores exactly as the old folder did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from culturecart.persist import read_header

LEGACY = Path(__file__).parent / "fixtures" / "legacy"
PREDICTORS = ["predictor", "predictor-logistic-culture", "predictor-mlp-local"]
RANKERS = ["popularity", "itemknn", "ease", "als", "bpr", "rerank"]
FLOAT32 = 1e-5  # a few float32 ulps (2**-23 each): summation order differs between library builds, a wrong weight does not


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
    pd.testing.assert_frame_equal(scores[expected.columns.tolist()], expected, check_exact=False, rtol=FLOAT32)
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
    # a factor model's score near zero is the difference of larger terms: its error scales with the largest score
    pd.testing.assert_frame_equal(scores.reset_index(drop=True), expected, check_exact=False, rtol=FLOAT32,
                                  atol=FLOAT32 * float(expected["score"].abs().max()))


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
