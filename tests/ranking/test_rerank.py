"""The LambdaRank re-ranker's options: history-similarity features, greedy source selection, pooled targets,
other markets' labelled validation lists."""

from __future__ import annotations

import numpy as np
import pytest

from culturecart.errors import InvalidInputError, UsageError
from culturecart.ranking.crossmarket import (
    evaluate_run,
    fit_ranker,
    load_model,
    rank_scores,
    save_model,
    summarise,
)
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


def _recording_boosts(monkeypatch, parts_seen: list[int] | None = None) -> list[set[str]]:
    """The users of the last list part of each booster ReRanker trains (the target's own labelled lists in
    cross_fit); the number of parts goes to ``parts_seen``."""
    seen: list[set[str]] = []
    boost = ReRanker._boost

    def recording(self, parts):
        seen.append(set(parts[-1][2].tolist()))
        if parts_seen is not None:
            parts_seen.append(len(parts))
        return boost(self, parts)

    monkeypatch.setattr(ReRanker, "_boost", recording)
    return seen


def test_cross_fit_scores_each_fold_with_a_booster_that_never_learned_its_labels(markets, monkeypatch, tmp_path):
    run, qrel = markets["de"].runs["valid"], markets["de"].qrels["valid"]
    parts: list[int] = []
    seen = _recording_boosts(monkeypatch, parts)
    ranker = ReRanker(trees=20, factors=8)
    scores = ranker.cross_fit(markets, "de", ["fr"], run, qrel, folds=3)
    assert parts == [2] * 4  # the inner hold-out's lists beside the labelled ones
    users = set(run["userId"].astype(str))
    left_out = [users - s for s in seen[:3]]
    assert len(seen) == 4 and seen[3] == users  # three folds, then the final model on every labelled list
    assert all(left_out) and set().union(*left_out) == users
    assert sum(len(s) for s in left_out) == len(users)  # each user is scored by exactly one fold's booster
    assert ranker.target_labels_ == len(qrel)
    assert len(scores) == run["candidates"].str.len().sum()
    assert summarise(evaluate_run(ranker, markets["de"], "test"))["hr@10"] > 0.3  # the final model scores
    with pytest.raises(UsageError, match="in-sample"):  # the run whose labels it learned
        evaluate_run(ranker, markets["de"], "valid")
    monkeypatch.undo()
    again = ReRanker(trees=20, factors=8).cross_fit(markets, "de", ["fr"], run, qrel, folds=3)
    np.testing.assert_array_equal(scores["score"].to_numpy(), again["score"].to_numpy())  # same seed, same folds
    other_seed = ReRanker(trees=20, factors=8, seed=1).cross_fit(markets, "de", ["fr"], run, qrel, folds=3)
    assert not np.allclose(scores["score"].to_numpy(), other_seed["score"].to_numpy())
    save_model(tmp_path / "m", ranker)
    back, _ = load_model(tmp_path / "m")
    assert back.target_labels_ == len(qrel)
    with pytest.raises(UsageError, match="in-sample"):  # the saved model keeps the pairs it learned
        evaluate_run(back, markets["de"], "valid")
    plain = ReRanker(trees=20, factors=8).fit(markets, "de", ["fr"])
    u, i = _pairs(markets, "de")
    np.testing.assert_allclose(back.score(u, i), ranker.score(u, i), rtol=1e-6)
    assert not np.allclose(plain.score(u, i), ranker.score(u, i))  # the target's labels changed the model


def test_cross_fit_without_target_lists_learns_on_the_targets_labels_alone(markets, monkeypatch):
    import culturecart.ranking.rerank as rerank

    def no_hold_out(*args, **kwargs):
        raise AssertionError("the target's inner hold-out is drawn although target_lists is off")

    monkeypatch.setattr(rerank, "hold_out", no_hold_out)
    parts: list[int] = []
    seen = _recording_boosts(monkeypatch, parts)
    run, qrel = markets["de"].runs["valid"], markets["de"].qrels["valid"]
    scores = ReRanker(trees=20, factors=8, target_lists=False).cross_fit(markets, "de", ["fr"], run, qrel, folds=2)
    assert parts == [1] * 3 and seen[2] == set(qrel["userId"].astype(str))  # the labelled lists alone
    ranked = rank_scores(scores, qrel)
    assert ranked["hr@10"].mean() > 0.3  # out of fold, still well above chance (0.1)
    with pytest.raises(ValueError, match="at least 2 folds"):
        ReRanker(trees=2, factors=4).cross_fit(markets, "de", ["fr"], run, qrel, folds=1)


def test_cross_fit_names_what_is_wrong_with_its_run_and_qrel(markets):
    run, qrel = markets["de"].runs["valid"], markets["de"].qrels["valid"]
    ranker = ReRanker(trees=2, factors=4)
    with pytest.raises(InvalidInputError, match=r"the qrel lacks column\(s\) \['itemId'\]"):
        ranker.cross_fit(markets, "de", ["fr"], run, qrel.rename(columns={"itemId": "item"}), folds=2)
    with pytest.raises(InvalidInputError, match=r"the run lacks column\(s\) \['candidates'\]"):
        ranker.cross_fit(markets, "de", ["fr"], run.rename(columns={"candidates": "items"}), qrel, folds=2)
    with pytest.raises(InvalidInputError, match="must be a pandas DataFrame"):
        ranker.cross_fit(markets, "de", ["fr"], run.to_dict("list"), qrel, folds=2)
    with pytest.raises(InvalidInputError, match="do not belong together"):  # the test qrel against the valid run
        ranker.cross_fit(markets, "de", ["fr"], run, markets["de"].qrels["test"], folds=2)


def test_a_model_fitted_without_own_labels_scores_every_run(markets):
    plain = ReRanker(trees=5, factors=4).fit(markets, "de", ["fr"])
    users, items = _pairs(markets, "de")
    assert not plain.labelled(users, items).any()
    assert len(evaluate_run(plain, markets["de"], "valid")) == len(markets["de"].qrels["valid"])
