import numpy as np

from culturecart.evaluate.metrics import mrr_at, next_item_ranks
from culturecart.ranking.session_rerank import SessionReRanker
from culturecart.ranking.sessions import CoVisitation


def _chains(n: int, seed: int, revisit: float = 0.0) -> list[list[str]]:
    """Sessions walking item chains c0 -> c1 -> c2 -> ... of 8 chains; with ``revisit`` the last step returns to
    the session's first item."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        chain, start, length = rng.integers(8), rng.integers(0, 6), rng.integers(3, 6)
        items = [f"c{chain}-{start + k}" for k in range(length)]
        if rng.random() < revisit:
            items = items[:-1] + [items[0]]
        out.append(items)
    return out


def _mrr(model, sessions) -> float:
    ranks = next_item_ranks(model.recommend([s[:-1] for s in sessions], k=100), [s[-1] for s in sessions])
    return float(mrr_at(ranks, 100).mean())


def test_it_learns_that_users_return_to_an_item_which_co_visitation_never_recommends():
    train, test = _chains(1500, 0, revisit=0.5), _chains(300, 1, revisit=0.5)
    covis = CoVisitation().fit(train)
    rerank = SessionReRanker(trees=60).fit(train)
    assert _mrr(rerank, test) > _mrr(covis, test) + 0.2
    repeats = [s for s in test if s[-1] in s[:-1]]
    # the session's first item, returned to, comes first or second (it competes with the chain's next step);
    # co-visitation never offers it
    assert _mrr(rerank, repeats) > 0.6 and _mrr(covis, repeats) == 0.0


def test_order_matters_the_next_step_of_a_chain_comes_first():
    train = _chains(1500, 2)
    rerank = SessionReRanker(trees=60).fit(train)
    assert rerank.recommend([["c3-1", "c3-2"]], k=3)[0][0] == "c3-3"
    test = _chains(300, 3)
    assert _mrr(rerank, test) >= _mrr(CoVisitation().fit(train), test) - 0.02


def test_same_seed_same_lists_and_sources_help_a_small_locale():
    small, big = _chains(60, 4), _chains(1500, 5)
    test = _chains(300, 6)
    a = SessionReRanker(trees=30, seed=1).fit(small, big)
    b = SessionReRanker(trees=30, seed=1).fit(small, big)
    hist = [s[:-1] for s in test]
    assert a.recommend(hist, k=10) == b.recommend(hist, k=10)
    assert _mrr(a, test) > _mrr(SessionReRanker(trees=30, seed=1).fit(small), test)


def test_next_new_item_mode_never_recommends_the_sessions_own_items():
    train, test = _chains(1500, 7, revisit=0.5), _chains(200, 8)
    rerank = SessionReRanker(trees=30, repeats=False).fit(train)
    lists = rerank.recommend([s[:-1] for s in test], k=20)
    assert all(not set(rec) & set(s[:-1]) for rec, s in zip(lists, test, strict=True))
    assert _mrr(rerank, test) > 0.5  # chains: the next step is learnable
