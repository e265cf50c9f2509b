import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from culturecart.data.dataset import Dataset
from culturecart.models import PurchaseModel, build_features, create_model, needs_raw_text
from culturecart.models.features import ModalityData, event_texts

GOOD = ["love it", "perfect fit", "so soft", "great colour", "flattering cut"]
BAD = ["runs small", "returned it", "cheap fabric", "see through", "poor stitching"]
FILLER = ["the dress", "this top", "ordered online", "wore it twice", "my usual size", "in the store"]


def _reviews(n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts whose label depends on a sentiment phrase, plus a tabular column with its own signal."""
    rng = np.random.default_rng(seed)
    sentiment = rng.random(n) < 0.5
    tab = rng.normal(size=n)
    texts = [f"{rng.choice(FILLER)} {rng.choice(GOOD if s else BAD)} {rng.choice(FILLER)}" for s in sentiment]
    logit = 1.2 * np.where(sentiment, 1.0, -1.0) + 1.2 * tab
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return texts, tab, y


def _data(texts, tab, y) -> ModalityData:
    n = len(texts)
    return ModalityData(blocks={"behaviour": tab[:, None].astype(np.float32), "text": np.zeros((n, 2), np.float32)},
                        names={"behaviour": ["tab"], "text": ["t0", "t1"]},
                        present={"behaviour": np.ones(n, bool), "text": np.ones(n, bool)}, y=y,
                        meta=pd.DataFrame({"session_id": np.arange(n).astype(str), "text": texts}),
                        kinds={"behaviour": "tabular", "text": "embedding"})


def test_matches_scikit_learn_tfidf_logistic():
    texts, tab, y = _reviews(1500, 0)
    train, test = _data(texts[:1000], tab[:1000], y[:1000]), _data(texts[1000:], tab[1000:], y[1000:])
    ours = create_model("tfidf").fit(train).predict_proba(test)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vec.fit_transform(texts[:1000])
    no_text = np.zeros((1000, 1))  # every row has text here, so the no_text flag column is all zero
    ref = LogisticRegression(C=4.0, max_iter=3000).fit(np.hstack([x_train.toarray(), no_text]), y[:1000])
    expected = ref.predict_proba(np.hstack([vec.transform(texts[1000:]).toarray(), np.zeros((500, 1))]))[:, 1]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)


def test_appending_tabular_blocks_is_an_early_fusion_that_uses_them():
    texts, tab, y = _reviews(3000, 1)
    train, test = _data(texts[:2000], tab[:2000], y[:2000]), _data(texts[2000:], tab[2000:], y[2000:])
    text_only = roc_auc_score(test.y, create_model("ngram_logistic").fit(train).predict_proba(test))
    fused = roc_auc_score(test.y, create_model("ngram_logistic", modalities=["text", "behaviour"])
                          .fit(train).predict_proba(test))
    assert fused > text_only + 0.05, (text_only, fused)


def test_vocabulary_comes_from_training_rows_only_and_save_load_round_trips(tmp_path):
    texts, tab, y = _reviews(600, 2)
    texts = [*texts[:500], *(f"zyzzyva {t}" for t in texts[500:])]  # a word only the test rows have
    train, test = _data(texts[:500], tab[:500], y[:500]), _data(texts[500:], tab[500:], y[500:])
    model = create_model("ngram_logistic", modalities=["text", "behaviour"]).fit(train)
    assert "zyzzyva" not in model.tfidf_.vocabulary_
    p = model.predict_proba(test)
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "arrays.npz", allow_pickle=False) as arrays:
        assert all(arrays[k].dtype != object for k in arrays.files)
    loaded = PurchaseModel.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(test), p, rtol=1e-10)
    np.testing.assert_array_equal(create_model("ngram_logistic", modalities=["text", "behaviour"])
                                  .fit(train).predict_proba(test), p)  # same data, same numbers


def test_unicode_missing_text_and_character_ngrams(tmp_path):
    rng = np.random.default_rng(3)
    good, bad = ["とても良い", "sehr schön", "ممتاز"], ["最悪でした", "zu klein", "سيء جدا"]
    y = (rng.random(400) < 0.5).astype(np.int64)
    texts = [str(rng.choice(good if label else bad)) for label in y]
    texts[:20] = [""] * 20  # rows without text: all-zero TF-IDF and the no_text flag
    data = _data(texts, np.zeros(400), y)
    for analyzer in ("word", "char_wb"):
        model = create_model("ngram_logistic", analyzer=analyzer, min_df=1).fit(data)
        p = model.predict_proba(data)
        assert np.isfinite(p).all() and roc_auc_score(y[20:], p[20:]) > 0.95
        model.save(tmp_path / analyzer)
        np.testing.assert_allclose(PurchaseModel.load(tmp_path / analyzer).predict_proba(data), p, rtol=1e-10)


def test_without_kept_text_the_error_says_how_to_get_it(sim_features):
    no_text = sim_features.rows(np.arange(50))
    no_text.meta = no_text.meta.drop(columns="text")
    with pytest.raises(ValueError, match="keep_text=True"):
        create_model("ngram_logistic").fit(no_text)


def test_event_texts_joins_titles_and_reviews_by_scope():
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["Red dress", None, "Blue top"]})
    reviews = pd.DataFrame({"review_id": ["r1", "r2", "r3"], "item_id": ["a", "a", "b"],
                            "text": ["nice", "too long", "ok"]})
    events = pd.DataFrame({"session_id": ["r1", "r3", "x"], "item_id": ["a", "b", "c"]})
    by_item = Dataset(items=items, reviews=reviews, events=events, meta={})
    assert event_texts(by_item, events).tolist() == ["Red dress nice too long", "ok", "Blue top"]
    by_event = Dataset(items=items, reviews=reviews, events=events, meta={"review_scope": "event"})
    assert event_texts(by_event, events).tolist() == ["Red dress nice", "ok", "Blue top"]


def test_build_features_keeps_text_only_when_asked(sim_dir):
    ds = Dataset.load(sim_dir)
    assert "text" not in build_features(ds).meta.columns
    kept = build_features(ds, keep_text=True).meta["text"]
    assert kept.str.len().gt(0).mean() > 0.9  # simulated items all have titles


def test_models_that_read_raw_text_are_known_and_need_the_text_modality():
    assert needs_raw_text(["lightgbm", "tfidf"]) and not needs_raw_text(["lightgbm", "text_only", "mlp"])
    texts, tab, y = _reviews(100, 4)
    with pytest.raises(ValueError, match="lack 'text'"):
        create_model("ngram_logistic", modalities=["behaviour"]).fit(_data(texts, tab, y))
