"""The re-ranker's training lists and list-relative features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from culturecart.ranking.listwise import PairStats, hold_out, relative, training_lists
from culturecart.ranking.markets import Market, Markets, merge_training
from culturecart.testing import small_markets


def _core_market(seed: int = 0) -> Market:
    rng = np.random.default_rng(seed)
    rows = [(f"u{u}", f"i{i}", float(rng.integers(1, 6))) for u in range(30) for i in rng.choice(40, 6, replace=False)]
    explicit = pd.DataFrame(rows, columns=["userId", "itemId", "rating"])
    core = explicit[explicit["itemId"].isin([f"i{i}" for i in range(20)])].assign(rating=1.0)
    return Market("aa", merge_training(explicit, core))


def test_list_relative_features_are_computed_within_each_users_list():
    users = np.array(["u", "u", "u", "v", "v"])
    out = relative(np.array([3.0, 1.0, 2.0, 5.0, 5.0]), users)
    assert out[:, 0].round(2).tolist() == [1.0, 0.33, 0.67, 0.75, 0.75]
    assert out[:, 1].tolist() == [0.0, 2.0, 1.0, 0.0, 0.0]  # gap to the list's best
    assert out[3:, 2].tolist() == [0.0, 0.0]  # a list of equal scores has no spread


def test_the_hold_out_does_not_follow_the_file_order_and_draws_from_the_5core():
    market = _core_market()
    _, held = hold_out(market, seed=3)
    shuffled = Market("aa", market.train.sample(frac=1.0, random_state=1).reset_index(drop=True))
    _, again = hold_out(shuffled, seed=3)
    pd.testing.assert_frame_equal(held, again)
    assert held["core"].all() and held["userId"].is_unique
    assert not hold_out(market, seed=4)[1].equals(held)  # the seed decides


def test_several_hold_outs_per_user_leave_every_user_a_history_and_make_one_list_each():
    market = _core_market()
    inner, held = hold_out(market, seed=2, per_user=2)
    counts = market.train.groupby("userId").size()
    eligible = market.train[market.train["core"]].groupby("userId").size()
    expected = (counts > 2).astype(int) * eligible.reindex(counts.index, fill_value=0).clip(upper=2)
    assert held.groupby("userId").size().reindex(counts.index, fill_value=0).equals(expected)
    assert held["core"].all()
    pairs = set(zip(held["userId"], held["itemId"], strict=True))
    assert not pairs & set(zip(inner.train["userId"], inner.train["itemId"], strict=True))  # held out of the bases
    assert len(inner.train) + len(held) == len(market.train)
    assert set(held["userId"]) <= set(inner.train["userId"])  # every user keeps a history for the bases
    assert set(hold_out(market, seed=2)[1]["userId"]) == set(held["userId"])  # the same users as with one hold-out
    users, items, labels, lists = training_lists(held, market, 5, np.random.default_rng(0))
    assert len(np.unique(lists)) == len(held) and labels.sum() == len(held)  # one list per held-out row
    for k in np.unique(lists):  # a list's negatives avoid the user's rows, the other held-out row included
        user = users[lists == k][0]
        assert not set(items[(lists == k) & (labels == 0)]) & set(market.train.loc[market.train["userId"] == user,
                                                                                   "itemId"])


def test_negatives_come_from_the_candidate_items_the_user_never_rated():
    market = _core_market()
    _, held = hold_out(market, seed=0)
    users, items, labels, lists = training_lists(held, market, 5, np.random.default_rng(0))
    core = set(market.core_items)
    rated = market.train.groupby("userId")["itemId"].agg(set)
    negatives = labels == 0
    assert set(items[negatives]) <= core
    assert not any(i in rated[u] for u, i in zip(users[negatives], items[negatives], strict=True))
    assert (labels == 1).sum() == len(held) == len(np.unique(lists))


def test_pair_stats_name_the_market_the_item_and_the_user():
    markets = small_markets()
    target, sources = markets.names[0], markets.names[1:]
    stats = PairStats(markets, target, sources)
    user = str(markets[target].train["userId"].iloc[0])
    item = str(markets[target].train["itemId"].iloc[0])
    row = stats.lookup(np.array([user, "nobody"]), np.array([item, "nothing"]))
    assert row.shape[1] == 5 + 5 + 2 and np.isfinite(row[0, :2]).all() and np.isnan(row[1, 0])
    assert isinstance(markets, Markets)
