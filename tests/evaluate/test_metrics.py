"""Metrics against scikit-learn or hand-computed cases; DeLong against a brute-force computation."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from culturecart.evaluate import (
    bootstrap_ci,
    delong_test,
    get_metric,
    paired_bootstrap_delta,
    reliability_curve,
)
from culturecart.evaluate.delong import delong_covariance


@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    return y, p


def test_classification_metrics_match_sklearn(data):
    y, p = data
    assert get_metric("auc")(y, p) == pytest.approx(skm.roc_auc_score(y, p))
    assert get_metric("pr_auc")(y, p) == pytest.approx(skm.average_precision_score(y, p))
    assert get_metric("logloss")(y, p) == pytest.approx(skm.log_loss(y, p))
    assert get_metric("brier")(y, p) == pytest.approx(skm.brier_score_loss(y, p))


def test_fast_auc_equals_sklearn_with_ties():
    rng = np.random.default_rng(8)
    y = rng.integers(0, 2, 1000)
    p = np.round(rng.random(1000), 2)  # many ties
    assert get_metric("auc")(y, p) == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert np.isnan(get_metric("auc")(np.zeros(5), np.arange(5)))


def test_ece_hand_computed():
    # bins of width 0.5: [0.2, 0.4] -> mean .3, observed 0 ; [0.6, 0.8] -> mean .7, observed 1
    y = np.array([0, 0, 1, 1])
    p = np.array([0.2, 0.4, 0.6, 0.8])
    assert get_metric_spec_ece(y, p, 2) == pytest.approx(0.5 * 0.3 + 0.5 * 0.3)
    curve = reliability_curve(y, p, n_bins=2)
    assert curve["count"].tolist() == [2, 2] and curve["observed_rate"].tolist() == [0.0, 1.0]


def get_metric_spec_ece(y, p, bins):
    from culturecart.evaluate.metrics import ece

    return ece(y, p, n_bins=bins)


def test_ranking_metrics_hand_computed():
    # group a: positives at ranks 2 and 3 of 3; group b: positive at rank 1; group c: no positive (ignored)
    groups = np.array(["a", "a", "a", "b", "b", "c"])
    y = np.array([0, 1, 1, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.5])
    assert get_metric("mrr")(y, p, groups) == pytest.approx((1 / 2 + 1) / 2)
    assert get_metric("p@2")(y, p, groups) == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert get_metric("recall@2")(y, p, groups) == pytest.approx((1 / 2 + 1) / 2)
    dcg_a = 1 / np.log2(3) + 1 / np.log2(4)
    idcg_a = 1 + 1 / np.log2(3)
    assert get_metric("ndcg@3")(y, p, groups) == pytest.approx((dcg_a / idcg_a + 1.0) / 2)
    assert get_metric("mrr@1")(y, p, groups) == pytest.approx((0 + 1) / 2)


def test_ndcg_matches_sklearn_per_group():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 8)
    y = (rng.random(160) < 0.3).astype(int)
    p = rng.random(160)
    ours = get_metric("ndcg@5")(y, p, groups)
    per = [skm.ndcg_score([y[groups == g]], [p[groups == g]], k=5) for g in range(20) if y[groups == g].any()]
    assert ours == pytest.approx(np.mean(per))


def test_unknown_metric_lists_valid():
    from culturecart.registry import UnknownNameError

    with pytest.raises(UnknownNameError, match="unknown metric 'f2'; choose one of: roc_auc .*ndcg@k"):
        get_metric("f2")


def _brute_force_delong(y, a, b):
    pos_a, neg_a, pos_b, neg_b = a[y == 1], a[y == 0], b[y == 1], b[y == 0]

    def psi(x, z):
        return (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])

    ka, kb = psi(pos_a, neg_a), psi(pos_b, neg_b)
    v10 = np.vstack([ka.mean(1), kb.mean(1)])
    v01 = np.vstack([ka.mean(0), kb.mean(0)])
    cov = np.cov(v10) / len(pos_a) + np.cov(v01) / len(neg_a)
    return np.array([ka.mean(), kb.mean()]), cov


def test_delong_matches_brute_force_with_ties():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    a = np.round(y + rng.normal(0, 0.7, 300), 1)  # rounding creates ties
    b = np.round(y + rng.normal(0, 2, 300), 1)
    aucs, cov = delong_covariance(y, np.vstack([a, b]))
    ref_aucs, ref_cov = _brute_force_delong(y, a, b)
    np.testing.assert_allclose(aucs, ref_aucs)
    np.testing.assert_allclose(cov, ref_cov)
    assert aucs[0] == pytest.approx(skm.roc_auc_score(y, a))
    res = delong_test(y, a, b)
    assert res.p_value < 0.05 and res.ci_low < res.delta < res.ci_high


def test_delong_identical_scores_is_not_significant(data):
    y, p = data
    res = delong_test(y, p, p)
    assert res.delta == 0 and res.p_value == 1.0


def test_bootstrap_interval_and_paired_delta(data):
    y, p = data
    ci = bootstrap_ci("auc", y, p, n_boot=300, seed=1)
    assert ci.low < ci.estimate < ci.high
    assert ci == bootstrap_ci("auc", y, p, n_boot=300, seed=1)  # reproducible
    noisy = np.clip(p + np.random.default_rng(9).normal(0, 0.4, len(p)), 0, 1)
    delta, p_value = paired_bootstrap_delta("auc", y, p, noisy, n_boot=300)
    assert delta.low > 0 and p_value < 0.05


def test_cluster_bootstrap_keeps_groups_whole():
    groups = np.repeat(np.arange(30), 5)
    rng = np.random.default_rng(2)
    y = (rng.random(150) < 0.3).astype(int)
    p = rng.random(150)
    ci = bootstrap_ci("ndcg@3", y, p, groups=groups, clusters=groups, n_boot=100)
    assert 0 <= ci.low <= ci.estimate <= ci.high <= 1
