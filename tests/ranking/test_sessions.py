import numpy as np
import pytest

from culturecart.evaluate.metrics import mrr_at, ndcg_at, next_item_ranks
from culturecart.ranking.sessions import CoVisitation, Popularity


def test_covisitation_hand_case_and_no_repeats():
    sessions = [["a", "b", "c"], ["a", "b", "d"], ["x", "b", "c"]]
    rec = CoVisitation(top_n=10).fit(sessions)
    # last item b: c follows it twice (2.0), d once (1.0); a (weight 0.6) adds c 0.5 and d 0.5 at gap 2
    assert rec.recommend([["a", "b"]], k=2) == [["c", "d"]]
    assert "b" not in rec.recommend([["b"]], k=5)[0]


def test_unknown_history_falls_back_to_popularity():
    rec = CoVisitation().fit([["a", "b"], ["a", "c"], ["a", "b"]])
    assert rec.recommend([["zz"]], k=3) == [["a", "b", "c"]]
    assert rec.recommend([[]], k=1) == [["a"]]
    assert Popularity().fit([["a", "b"], ["b"]]).recommend([["b"]], k=2) == [["a"]]


def test_covisitation_is_deterministic_on_ties():
    sessions = [["p", "q"], ["p", "r"], ["p", "s"]]
    a = CoVisitation().fit(sessions).recommend([["p"]], k=3)
    b = CoVisitation().fit(list(reversed(sessions))).recommend([["p"]], k=3)
    assert a == b == [["q", "r", "s"]]


def test_rank_metrics_hand_computed():
    ranks = next_item_ranks([["a", "b", "c"], ["x"], ["k", "t"]], ["c", "y", "t"])
    assert ranks.tolist() == [3, 0, 2]
    assert mrr_at(ranks).tolist() == pytest.approx([1 / 3, 0.0, 0.5])
    assert mrr_at(ranks, k=2).tolist() == pytest.approx([0.0, 0.0, 0.5])
    assert ndcg_at(ranks, 10).tolist() == pytest.approx([1 / np.log2(4), 0.0, 1 / np.log2(3)])
