"""Rankers: hand-checked scores, save/load round trips, metrics against ranx, scopes, cold-start users."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from culturecart.ranking.crossmarket import (
    culture_weights,
    evaluate_run,
    fit_ranker,
    load_model,
    rank_scores,
    save_model,
    scope_weights,
    summarise,
)
from culturecart.ranking.markets import Market, Markets, split_markets
from culturecart.ranking.rankers import EASE, ItemKNN, Popularity
from culturecart.testing import toy_markets


@pytest.fixture(scope="module")
def markets(rating_dir) -> Markets:
    return split_markets(rating_dir, seed=0)


def test_itemknn_is_the_cosine_of_item_columns():
    from sklearn.metrics.pairwise import cosine_similarity

    m = toy_markets()
    knn = ItemKNN().fit(m, "aa", ["bb"])
    users = ["aa\x1fu1", "aa\x1fu2", "aa\x1fu3", "bb\x1fv1", "bb\x1fv2"]
    rows = {"aa\x1fu1": ["i1", "i2"], "aa\x1fu2": ["i1", "i3"], "aa\x1fu3": ["i2"], "bb\x1fv1": ["i1", "i3"],
            "bb\x1fv2": ["i3"]}
    x = np.array([[float(i in rows[u]) for i in ("i1", "i2", "i3")] for u in users])
    sim = cosine_similarity(x.T)
    np.fill_diagonal(sim, 0)
    # u3 has only i2 in its history: its score for i1 and i3 is sim(i2, .)
    np.testing.assert_allclose(knn.score(["u3", "u3"], ["i1", "i3"]), [sim[1, 0], sim[1, 2]])


@pytest.mark.parametrize("similarity", ["cosine", "jaccard"])
def test_history_similarity_is_the_max_mean_and_std_over_the_users_past_items(similarity):
    m = toy_markets()
    knn = ItemKNN(similarity=similarity).fit(m, "aa", ["bb"])
    users = {"u1": ["i1", "i2"], "u2": ["i1", "i3"], "u3": ["i2"], "v1": ["i1", "i3"], "v2": ["i3"]}
    x = np.array([[float(i in past) for i in ("i1", "i2", "i3")] for past in users.values()])
    if similarity == "cosine":
        norms = np.sqrt(x.sum(axis=0))
        sim = (x.T @ x) / np.outer(norms, norms)
    else:
        both = x.T @ x
        sim = both / (x.sum(axis=0)[:, None] + x.sum(axis=0)[None, :] - both)
    np.fill_diagonal(sim, 0)
    got = knn.history_similarity(["u1", "u2", "nobody"], ["i3", "i2", "i1"])
    for row, (past, item) in zip(got, [([0, 1], 2), ([0, 2], 1)], strict=False):
        values = sim[past, item]
        np.testing.assert_allclose(row, [values.max(), values.mean(), values.std()])
    assert np.isnan(got[2]).all()  # an unknown user
    # the score is the sum over the history, so it is the mean times the history's length
    np.testing.assert_allclose(knn.score(["u1"], ["i3"]), 2 * got[0, 1])


def test_ease_matches_its_closed_form():
    m = toy_markets()
    ease = EASE(l2=1.0).fit(m, "aa", [])
    x = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 0]], float)  # u1, u2, u3 x i1, i2, i3
    p = np.linalg.inv(x.T @ x + np.eye(3))
    b = -p / np.diag(p)
    np.fill_diagonal(b, 0)
    np.testing.assert_allclose(ease.score(["u1", "u3"], ["i3", "i1"]), [(x[0] @ b)[2], (x[2] @ b)[0]], rtol=1e-5)


@pytest.mark.parametrize("model", ["popularity", "itemknn", "ease", "als", "bpr", "lightgcn", "rerank"])
def test_every_ranker_saves_and_loads_to_the_same_scores(markets, model, tmp_path):
    params = {"trees": 20, "factors": 8} if model == "rerank" else {}
    ranker = fit_ranker(markets, "de", {"fr": 1.0}, model, **params)
    run = markets["de"].runs["valid"].explode("candidates")
    users, items = run["userId"].to_numpy(str), run["candidates"].to_numpy(str)
    save_model(tmp_path / "m", ranker)
    back, info = load_model(tmp_path / "m")
    assert info == {"target": "de", "sources": {"fr": 1.0}, "model": model}
    np.testing.assert_allclose(back.score(users, items), ranker.score(users, items), rtol=1e-6)


def test_rankers_learn_the_planted_clusters(markets):
    for model, options in (("itemknn", {}), ("ease", {}), ("rerank", {"trees": 30})):
        result = summarise(evaluate_run(fit_ranker(markets, "uk", {}, model, **options), markets["uk"], "valid"))
        assert result["hr@10"] > 0.3, (model, result)  # chance: 10 of 100 candidates, many from other clusters


def test_a_misspelt_ranker_option_is_refused_with_the_valid_ones():
    from culturecart.errors import ConfigError

    with pytest.raises(ConfigError, match=r"options of ranker:ease: l3: unknown option \(valid: l2, target_weight\)"):
        fit_ranker(toy_markets(), "aa", {}, "ease", l3=5)
    with pytest.raises(ConfigError, match="l2: Input should be greater than 0"):
        fit_ranker(toy_markets(), "aa", {}, "ease", l2=-1)


def test_rank_metrics_match_ranx():
    ranx = pytest.importorskip("ranx", reason="ranx is in the test extras")
    rng = np.random.default_rng(0)
    users = [f"u{k}" for k in range(30)]
    rows = [(u, f"i{j}", float(rng.random())) for u in users for j in range(20)]
    scores = pd.DataFrame(rows, columns=["userId", "itemId", "score"])
    qrel = pd.DataFrame({"userId": users, "itemId": [f"i{rng.integers(20)}" for _ in users], "rating": 5.0})
    ours = summarise(rank_scores(scores, qrel))
    run = ranx.Run({u: {i: s for _, i, s in g.itertuples(index=False)} for u, g in scores.groupby("userId")})
    qrels = ranx.Qrels({u: {i: 1} for u, i in zip(qrel["userId"], qrel["itemId"], strict=True)})
    theirs = ranx.evaluate(qrels, run, ["ndcg@10", "hit_rate@10", "mrr"])
    assert ours["ndcg@10"] == pytest.approx(theirs["ndcg@10"], abs=1e-6)
    assert ours["hr@10"] == pytest.approx(theirs["hit_rate@10"], abs=1e-6)
    assert ours["mrr"] == pytest.approx(theirs["mrr"], abs=1e-6)


def test_scopes_and_culture_weights(markets):
    assert scope_weights(markets, "de", "local") == {}
    assert scope_weights(markets, "de", "all-but", "fr") == {"uk": 1.0}
    assert scope_weights(markets, "de", "pairwise", "uk") == {"uk": 1.0}
    w = culture_weights(markets, "de", tau=0.2)
    assert set(w) == {"fr", "uk"} and all(0 < v <= 1 for v in w.values())
    anonymous = Markets(None, {f"m{k}": Market(f"m{k}", markets[name].train, markets[name].qrels, markets[name].runs)
                               for k, name in enumerate(("de", "fr", "uk"), start=1)})
    assert set(culture_weights(anonymous, "m1", 0.2).values()) == {1.0}  # no profiles: nothing to weight by


def test_cold_start_users_are_scored_and_counted(markets):
    ranker = fit_ranker(markets, "de", {}, "popularity")
    run = markets["de"].runs["valid"].copy()
    qrel = markets["de"].qrels["valid"].copy()
    old = run.loc[0, "userId"]
    run.loc[0, "userId"] = "new-user"
    qrel.loc[qrel["userId"] == old, "userId"] = "new-user"
    from culturecart.ranking.crossmarket import score_run

    scored = rank_scores(score_run(ranker, run), qrel, known_users=set(markets["de"].train["userId"]))
    assert summarise(scored)["cold_users"] == 1


def test_a_qrel_user_without_scores_is_an_error_unless_allowed(markets):
    from culturecart.errors import InvalidInputError
    from culturecart.ranking.crossmarket import score_run

    ranker = Popularity().fit(markets, "fr")
    scores = score_run(ranker, markets["fr"].runs["test"].iloc[1:])
    with pytest.raises(InvalidInputError, match="have no scores"):
        rank_scores(scores, markets["fr"].qrels["test"])
    allowed = summarise(rank_scores(scores, markets["fr"].qrels["test"], allow_missing=True))
    assert allowed["users"] == len(markets["fr"].qrels["test"])


def test_anonymised_markets_rank_like_named_ones(markets):
    anonymous = Markets(None, {f"m{k}": Market(f"m{k}", markets[name].train, markets[name].qrels, markets[name].runs)
                               for k, name in enumerate(("de", "fr", "uk"), start=1)})
    named = summarise(evaluate_run(fit_ranker(markets, "de", {"fr": 1.0}, "itemknn"), markets["de"], "valid"))
    anon = summarise(evaluate_run(fit_ranker(anonymous, "m1", {"m2": 1.0}, "itemknn"), anonymous["m1"], "valid"))
    assert anon == named
