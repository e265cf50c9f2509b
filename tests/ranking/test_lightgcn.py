"""LightGCN: its normalised graph against a dense hand computation, seeded training, and that it learns."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from culturecart.ranking.crossmarket import evaluate_run, fit_ranker, summarise
from culturecart.ranking.lightgcn import LightGCN, normalised_graph
from culturecart.ranking.markets import Markets, split_markets
from culturecart.testing import small_markets


@pytest.fixture(scope="module")
def markets(rating_dir) -> Markets:
    return split_markets(rating_dir, seed=0)


def test_the_graph_is_the_symmetrically_normalised_bipartite_adjacency():
    x = np.array([[1.0, 1.0, 0.0], [0.0, 2.0, 1.0]])  # 2 users x 3 items, one edge weighted 2
    a = np.block([[np.zeros((2, 2)), x], [x.T, np.zeros((3, 3))]])
    d = a.sum(axis=1)
    expected = a / np.sqrt(np.outer(d, d))
    got = normalised_graph(sp.coo_matrix(x)).to_dense().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_the_same_seed_gives_the_same_embeddings_and_another_seed_others():
    m = small_markets()
    one, two = (LightGCN(factors=8, epochs=3, seed=1).fit(m, "aa", ["bb"]) for _ in range(2))
    other = LightGCN(factors=8, epochs=3, seed=2).fit(m, "aa", ["bb"])
    np.testing.assert_array_equal(one.item_factors_, two.item_factors_)
    assert not np.allclose(one.item_factors_, other.item_factors_)


def test_lightgcn_learns_the_planted_clusters(markets):
    ranker = fit_ranker(markets, "uk", {}, "lightgcn", factors=16, epochs=40)
    assert summarise(evaluate_run(ranker, markets["uk"], "valid"))["hr@10"] > 0.3  # chance: 10 of 100


def test_zero_layers_is_plain_bpr_on_the_embeddings():
    m = small_markets()
    flat = LightGCN(factors=8, epochs=2, layers=0).fit(m, "aa", [])
    users = np.array(["aa000", "aa001"])
    rows = np.searchsorted(flat.users_, users)
    np.testing.assert_allclose(flat.score(users, flat.items_[:2]),
                               (flat.user_factors_[rows] * flat.item_factors_[:2]).sum(axis=1), rtol=1e-5)
