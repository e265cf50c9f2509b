"""The LambdaRank re-ranker's options: history-similarity features, greedy source selection, pooled targets,
other markets' labelled validation lists."""

from __future__ import annotations

import numpy as np
import pytest

from culturecart.ranking.crossmarket import evaluate_run, fit_ranker, load_model, save_model, summarise
from culturecart.ranking.listwise import hold_out, training_lists
from culturecart.ranking.markets import Market, Markets, split_markets
from culturecart.ranking.rerank import ReRanker


@pytest.fixture(scope="module")
def markets(rating_dir) -> Markets:
    return split_markets(rating_dir, seed=0)


def _pairs(markets: Markets, target: str) -> tuple[np.ndarray, np.ndarray]:
    run = markets[target].runs["valid"].explode("candidates")
    return run["userId"].to_numpy(str), run["candidates"].to_numpy(str)


def test_history_similarity_adds_its_features_and_survives_save_and_load(markets, tmp_path):
    plain = ReRanker(trees=20, factors=8).fit(markets, "de", ["fr"])
    rich = ReRanker(trees=20, factors=8, history_similarity=True).fit(markets, "de", ["fr"])
    # (max, mean, std) x (cosine, Jaccard) and each one's rank, gap and z-score within the list
    assert rich.booster_.num_feature() == plain.booster_.num_feature() + 6 * 4
    users, items = _pairs(markets, "de")
    save_model(tmp_path / "m", rich)
    back, _ = load_model(tmp_path / "m")
    assert back.config.history_similarity
    np.testing.assert_allclose(back.score(users, items), rich.score(users, items), rtol=1e-6)
    assert summarise(evaluate_run(rich, markets["de"], "valid"))["hr@10"] > 0.3  # chance is 0.1


def test_source_selection_is_greedy_on_the_inner_hold_out_and_kept_with_the_model(markets, tmp_path):
    ranker = ReRanker(trees=10, factors=8, select_sources=True).fit(markets, "de", ["fr", "uk"])
    trace = ranker.selection_
    assert trace[0]["round"] == 0 and trace[0]["sources"] == []
    best, expected = trace[0]["inner_ndcg@10"], []
    for r in trace[1:]:  # each round picks the best of the sources left, kept while it raises the inner nDCG@10
        assert r["best"] == max(r["tried"], key=r["tried"].get)
        assert set(r["tried"]) == {"fr", "uk"} - set(expected)
        if r["inner_ndcg@10"] <= best:
            break
        expected.append(r["best"])
        best = r["inner_ndcg@10"]
    assert sorted(ranker.sources_) == sorted(expected)
    save_model(tmp_path / "m", ranker)
    back, info = load_model(tmp_path / "m")
    assert back.selection_ == trace and info["sources"] == ranker.sources_


def test_pooled_targets_train_one_model_on_several_markets_lists(markets):
    alone = fit_ranker(markets, "de", {"fr": 1.0, "uk": 1.0}, "rerank", trees=20, factors=8)
    pooled = fit_ranker(markets, "de", {"fr": 1.0, "uk": 1.0}, "rerank", trees=20, factors=8,
                        pool_targets=["fr", "uk"])
    users, items = _pairs(markets, "de")
    assert not np.allclose(alone.score(users, items), pooled.score(users, items))  # other lists, another model
    assert summarise(evaluate_run(pooled, markets["de"], "valid"))["hr@10"] > 0.3



def test_labelled_lists_of_other_markets_train_beside_the_inner_hold_out(markets, monkeypatch):
    import culturecart.ranking.rerank as rerank

    drawn = []

    def recording(held, market, negatives, rng):
        drawn.append((market.name, held[["userId", "itemId"]].astype(str)))
        return training_lists(held, market, negatives, rng)

    monkeypatch.setattr(rerank, "training_lists", recording)
    fitted = ReRanker(trees=20, factors=8, labelled_lists=["fr"]).fit(markets, "de", ["fr"])
    assert [name for name, _ in drawn] == ["de", "fr"]  # the target's inner hold-out, then fr's own labels
    fr_qrel = markets["fr"].qrels["valid"][["userId", "itemId"]].astype(str)
    assert set(map(tuple, drawn[1][1].to_numpy())) == set(map(tuple, fr_qrel.to_numpy()))
    de_held = {tuple(r) for q in markets["de"].qrels.values() for r in q[["userId", "itemId"]].astype(str).to_numpy()}
    assert not de_held & set(map(tuple, drawn[0][1].to_numpy()))  # the target's held-out rows are never read
    plain = ReRanker(trees=20, factors=8).fit(markets, "de", ["fr"])
    users, items = _pairs(markets, "de")
    assert not np.allclose(fitted.score(users, items), plain.score(users, items))
    assert summarise(evaluate_run(fitted, markets["de"], "valid"))["hr@10"] > 0.3


def test_labelled_lists_refuse_the_target_and_a_market_without_validation_labels(markets):
    with pytest.raises(ValueError, match="is the target"):
        ReRanker(trees=2, factors=4, labelled_lists=["de"]).fit(markets, "de", ["fr"])
    bare = Markets(markets.root, {**markets.markets, "fr": Market("fr", markets["fr"].train)})
    with pytest.raises(ValueError, match="no held-out validation"):
        ReRanker(trees=2, factors=4, labelled_lists=["fr"]).fit(bare, "de", ["fr"])


def test_without_target_lists_the_model_trains_on_other_markets_labelled_lists_alone(markets, monkeypatch):
    import culturecart.ranking.rerank as rerank

    drawn = []

    def recording(held, market, negatives, rng):
        drawn.append(market.name)
        return training_lists(held, market, negatives, rng)

    def no_hold_out(*args, **kwargs):
        raise AssertionError("the target's inner hold-out is drawn although target_lists is off")

    monkeypatch.setattr(rerank, "training_lists", recording)
    monkeypatch.setattr(rerank, "hold_out", no_hold_out)
    alone = ReRanker(trees=20, factors=8, labelled_lists=["fr"], target_lists=False).fit(markets, "de", ["fr"])
    assert drawn == ["fr"]
    monkeypatch.undo()
    both = ReRanker(trees=20, factors=8, labelled_lists=["fr"]).fit(markets, "de", ["fr"])
    users, items = _pairs(markets, "de")
    assert not np.allclose(alone.score(users, items), both.score(users, items))
    assert summarise(evaluate_run(alone, markets["de"], "valid"))["hr@10"] > 0.3  # chance is 0.1


@pytest.mark.parametrize("options", [{}, {"pool_targets": ["de"]}])
def test_without_target_lists_some_other_market_must_give_lists(markets, options):
    with pytest.raises(ValueError, match="leaves no training lists"):
        ReRanker(trees=2, factors=4, target_lists=False, **options).fit(markets, "de", ["fr"])


def test_repeats_draw_each_inner_hold_out_with_its_own_seed(markets, monkeypatch):
    import culturecart.ranking.rerank as rerank

    undated = Markets(markets.root, {**markets.markets, "de": Market("de", markets["de"].train.drop(columns="date"))})
    seeds = []

    def recording(market, seed, per_user=1):
        seeds.append(seed)
        return hold_out(market, seed, per_user)

    monkeypatch.setattr(rerank, "hold_out", recording)
    twice = ReRanker(trees=20, factors=8, repeats=2, seed=3).fit(undated, "de", ["fr"])
    assert seeds == [3, 4]
    _, first = hold_out(undated["de"], 3)
    _, second = hold_out(undated["de"], 4)
    assert not first[["userId", "itemId"]].equals(second[["userId", "itemId"]])  # without dates, other rows
    _, dated = hold_out(markets["de"], 4)
    assert dated[["userId", "itemId"]].equals(hold_out(markets["de"], 3)[1][["userId", "itemId"]])  # the last
    once = ReRanker(trees=20, factors=8, seed=3).fit(undated, "de", ["fr"])
    users, items = _pairs(markets, "de")
    assert not np.allclose(twice.score(users, items), once.score(users, items))


def test_lightgcn_joins_the_bases_of_the_target_and_survives_save_and_load(markets, tmp_path):
    plain = ReRanker(trees=20, factors=8).fit(markets, "de", ["fr"])
    graph = ReRanker(trees=20, factors=8, lightgcn=True).fit(markets, "de", ["fr"])
    assert set(graph.bases_) - set(plain.bases_) == {"lightgcn@target"}
    assert graph.bases_["lightgcn@target"].sources_ == {}  # the target alone
    # the raw score and its rank, gap and z-score within the list
    assert graph.booster_.num_feature() == plain.booster_.num_feature() + 4
    users, items = _pairs(markets, "de")
    save_model(tmp_path / "m", graph)
    back, _ = load_model(tmp_path / "m")
    np.testing.assert_allclose(back.score(users, items), graph.score(users, items), rtol=1e-6)
