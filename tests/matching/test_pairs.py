import warnings

import numpy as np
import pytest

from culturecart.matching.config import Steps
from culturecart.matching.knn import knn, l2_normalize
from culturecart.matching.pairs import (
    PairScorer,
    PairSet,
    candidates,
    listed_similarity,
    match_lists,
    pair_matches,
)
from culturecart.matching.tuning import fit_pair_scorer, predict_rows, score_f1, tune_thresholds
from culturecart.matching.views import Views

UNION = Steps(components=("comb", "text", "tfidf"), min2=True, union=True, inb_stages=0, arcface=False,
              pair_model=False)
PAIRS = Steps(components=("comb", "text", "tfidf"), min2=True, union=True, inb_stages=1, arcface=False,
              pair_model=True)


def test_candidates_are_unordered_pairs_above_each_floor():
    sims = np.array([[1.0, 0.9, 0.1], [1.0, 0.9, 0.35], [1.0, 0.35, 0.1]], np.float32)
    idx = np.array([[0, 1, 2], [1, 0, 2], [2, 1, 0]])
    a, b = candidates({"tfidf": (sims, idx)}, 3)  # tfidf floor 0.3: (0,1) twice, (1,2) twice, not (0,2)
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1), (1, 2)]
    a, b = candidates({"text": (sims, idx)}, 3)  # text floor 0.6
    assert list(zip(a.tolist(), b.tolist(), strict=True)) == [(0, 1)]


def test_listed_similarity_reads_either_direction():
    sims = np.array([[1.0, 0.8], [1.0, 0.7], [1.0, 0.5]], np.float32)
    idx = np.array([[0, 1], [1, 2], [2, 1]])
    out = listed_similarity(sims, idx, np.array([0, 1, 0]), np.array([1, 2, 2]))
    assert out[0] == pytest.approx(0.8) and out[1] == pytest.approx(0.7) and np.isnan(out[2])
    out = listed_similarity(sims, idx, np.array([1]), np.array([0]))  # only 0 lists 1
    assert out[0] == pytest.approx(0.8)


def test_pair_matches_threshold_min2_and_lists():
    a, b = np.array([0, 0, 2]), np.array([1, 2, 3])
    p = np.array([0.9, 0.3, 0.2])
    rows, cols = pair_matches(a, b, p, threshold=0.5)
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0)]
    rows, cols = pair_matches(a, b, p, threshold=0.5, min2=0.25)  # 2's best (0.3 with 0) is rescued, 3's not
    assert sorted(zip(rows.tolist(), cols.tolist(), strict=True)) == [(0, 1), (1, 0), (2, 0)]
    lists = match_lists(4, np.array([0, 0, 1]), np.array([2, 1, 0]), np.array([0.6, 0.9, 0.9]))
    assert lists == [[0, 1, 2], [1, 0], [2], [3]]  # itself first, then by falling probability


def _views(rng, centres, image_centres, sizes) -> tuple[Views, np.ndarray]:
    """Listings of groups: a noisy text side and a noisy image side, each alone ambiguous."""
    groups = rng.choice(len(centres), size=sizes, replace=False)
    codes = np.repeat(np.arange(sizes), rng.integers(2, 5, sizes))
    g = groups[codes]
    text = l2_normalize(centres[g] + 0.9 * rng.normal(size=(len(g), centres.shape[1])))
    image = l2_normalize(image_centres[g] + 0.9 * rng.normal(size=(len(g), image_centres.shape[1])))
    words = l2_normalize(np.concatenate([text, 0.5 * image], axis=1))  # a third, correlated view
    return Views({"text": knn(text, 51), "tfidf": knn(words, 51)}, {"text": text}, image), codes


@pytest.fixture(scope="module")
def folds():
    rng = np.random.default_rng(0)
    centres, image_centres = rng.normal(size=(600, 24)), rng.normal(size=(600, 16))
    return [_views(rng, centres, image_centres, 120) for _ in range(3)]


@pytest.fixture(scope="module")
def th(folds):
    return tune_thresholds(folds[:2], UNION)


def test_pair_scorer_beats_the_tuned_union_and_round_trips(folds, th, tmp_path):
    train, (test, codes) = folds[:2], folds[2]
    union_f1 = score_f1(test, th, UNION, codes)
    scorer = fit_pair_scorer(train, th, PAIRS, seed=0)
    pair_f1 = score_f1(test, th, PAIRS, codes, scorer=scorer)
    assert pair_f1 > union_f1 + 0.01, (pair_f1, union_f1)
    again = fit_pair_scorer(train, th, PAIRS, seed=0)
    assert (again.threshold, again.min2) == (scorer.threshold, scorer.min2)
    rows = predict_rows(test, th, PAIRS, scorer)
    assert rows == predict_rows(test, th, PAIRS, again)  # seeded: the same matches
    assert all(r[0] == i and len(r) <= 50 for i, r in enumerate(rows))
    scorer.save(tmp_path)
    loaded = PairScorer.load(tmp_path)
    assert predict_rows(test, th, PAIRS, loaded) == rows


def test_pair_scorer_scores_missing_features_as_missing_and_needs_two_folds(folds, th):
    scorer = fit_pair_scorer(folds[:2], th, PAIRS)
    test, _ = folds[2]
    fewer = Views({"text": test.neighbours["text"]}, test.text_sides, test.image_side)  # no tfidf list
    with pytest.warns(UserWarning, match="cos:tfidf"):
        rows = predict_rows(fewer, th, PAIRS, scorer)
    assert len(rows) == test.n
    with pytest.raises(ValueError, match="at least 2 inner folds"):
        fit_pair_scorer(folds[:1], th, PAIRS)
    with pytest.raises(ValueError, match="no pair model|none was fitted"):
        predict_rows(test, th, PAIRS, None)
    empty = PairSet(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, len(scorer.names)), np.float32),
                    scorer.names, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert scorer.predict(empty).shape == (0,)
