"""The weighted bootstrap equals the resample loop it replaces (same seed, same resamples)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from culturecart.evaluate import bootstrap_ci, get_metric_spec, paired_bootstrap_delta
from culturecart.evaluate.bootstrap import interval
from culturecart.evaluate.metrics import pr_auc_weighted, roc_auc_weighted

METRICS = ["roc_auc", "pr_auc", "log_loss", "brier", "ece", "ndcg@10", "ndcg@3", "mrr", "mrr@2", "precision@2",
           "recall@3"]


def _loop_values(metric, y, p, groups, clusters, n_boot, seed):
    """The textbook cluster bootstrap: materialise each resample, a repeated cluster counting as new groups."""
    fn = get_metric_spec(metric).fn
    rng = np.random.default_rng(seed)
    codes = None if groups is None else pd.factorize(groups)[0].astype(np.int64)
    if clusters is not None:
        uniq = np.unique(clusters)
        members = [np.flatnonzero(clusters == c) for c in uniq]
    values = []
    for _ in range(n_boot):
        if clusters is None:
            idx = rng.integers(0, len(y), len(y))
            g = None if codes is None else codes[idx]
        else:
            picks = rng.integers(0, len(members), len(members))
            idx = np.concatenate([members[i] for i in picks])
            draw = np.repeat(np.arange(len(picks)), [len(members[i]) for i in picks])
            g = None if codes is None else codes[idx] * (len(picks) + 1) + draw
        values.append(fn(y[idx], p[idx], g))
    return np.array(values)


@pytest.fixture
def sessions():
    rng = np.random.default_rng(5)
    users = rng.integers(0, 60, 900)
    sessions = users * 7 + rng.integers(0, 4, 900)  # every session inside one user
    y = (rng.random(900) < 0.12).astype(int)
    p = np.round(np.clip(0.25 * y + rng.random(900) * 0.75, 0, 1), 2)  # ties on purpose
    return y, p, sessions, users


@pytest.mark.parametrize("metric", METRICS)
def test_weighted_bootstrap_equals_the_resample_loop(sessions, metric):
    y, p, groups, users = sessions
    ci = bootstrap_ci(metric, y, p, groups=groups, clusters=users, n_boot=60, seed=4)
    values = _loop_values(metric, y, p, groups, users, 60, 4)
    lo, hi = np.nanquantile(values, [0.025, 0.975])
    assert ci.low == pytest.approx(lo, abs=1e-10) and ci.high == pytest.approx(hi, abs=1e-10)


@pytest.mark.parametrize("metric", ["roc_auc", "pr_auc", "ece", "ndcg@10"])
def test_row_bootstrap_and_groups_across_clusters_equal_the_loop(sessions, metric):
    y, p, groups, users = sessions
    shuffled = np.random.default_rng(1).permutation(groups)  # sessions now span users: the loop path
    for g, c in ((groups, None), (shuffled, users)):
        ci = bootstrap_ci(metric, y, p, groups=g, clusters=c, n_boot=40, seed=2)
        lo, hi, _ = interval(ci.estimate, _loop_values(metric, y, p, g, c, 40, 2), bounds=get_metric_spec(metric).bounds)
        assert (ci.low, ci.high) == pytest.approx((lo, hi), abs=1e-10)


def test_paired_delta_equals_the_loop(sessions):
    y, p, _, users = sessions
    q = np.clip(p + np.random.default_rng(3).normal(0, 0.2, len(p)), 0, 1)
    delta, p_value = paired_bootstrap_delta("roc_auc", y, p, q, clusters=users, n_boot=80, seed=7)
    diffs = _loop_values("roc_auc", y, p, None, users, 80, 7) - _loop_values("roc_auc", y, q, None, users, 80, 7)
    assert (delta.low, delta.high) == pytest.approx(interval(delta.estimate, diffs)[:2], abs=1e-10)
    far = min((diffs <= 0).sum(), (diffs >= 0).sum())
    assert p_value == pytest.approx(min(1.0, 2 * (1 + far) / (1 + len(diffs))))  # never 0: (1 + far) / (1 + B)


def test_weighted_metrics_with_integer_weights_equal_sklearn_on_repeated_rows():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.round(rng.random(200), 1)
    w = rng.integers(0, 3, (3, 200)).astype(float)
    for row in w:
        idx = np.repeat(np.arange(200), row.astype(int))
        assert roc_auc_weighted(y, p, row[None])[0] == pytest.approx(skm.roc_auc_score(y[idx], p[idx]), abs=1e-12)
        assert pr_auc_weighted(y, p, row[None])[0] == pytest.approx(
            skm.average_precision_score(y[idx], p[idx]), abs=1e-12)
    assert np.isnan(roc_auc_weighted(y, p, np.where(y == 1, 0.0, 1.0)[None])[0])  # one class left


def test_a_replicate_without_positives_is_nan_not_an_error():
    y = np.array([1, 0, 0, 0, 0, 0])
    p = np.linspace(0.9, 0.1, 6)
    ci = bootstrap_ci("roc_auc", y, p, clusters=np.arange(6), n_boot=50, seed=0)
    assert 0 <= ci.low <= ci.high <= 1


def test_an_interval_always_holds_its_estimate_and_stays_in_bounds():
    from culturecart.evaluate.bootstrap import interval

    rng = np.random.default_rng(0)
    for _ in range(200):
        draws = np.clip(rng.normal(rng.uniform(0.5, 0.99), rng.uniform(0.001, 0.1), int(rng.integers(5, 300))), 0, 1)
        estimate = float(np.clip(draws.mean() + rng.normal(0, 0.1), 0.01, 0.999))  # often outside the draws
        low, high, method = interval(estimate, draws, bounds=(0.0, 1.0))
        assert 0 <= low <= estimate <= high <= 1, (estimate, low, high, method)
    low, high, method = interval(0.5, np.linspace(0.4, 0.6, 1001))
    assert method == "percentile" and (low, high) == pytest.approx((0.405, 0.595))
    # the bias-corrected interval where the estimate is off-centre but within the middle 95%
    skewed = np.concatenate([np.full(900, 0.70), np.linspace(0.70, 0.90, 100)])
    assert interval(0.71, skewed)[2] in ("percentile", "bias-corrected percentile")
    assert interval(0.95, skewed, bounds=(0.0, 1.0))[2] == "normal (logit scale)"


def test_a_bootstrap_p_value_is_never_zero_and_is_two_sided():
    from culturecart.evaluate.bootstrap import bootstrap_p

    assert bootstrap_p(np.full(99, 0.2)) == pytest.approx(2 / 100)
    assert bootstrap_p(np.r_[np.full(89, 0.2), np.full(10, -0.1)]) == pytest.approx(2 * 11 / 100)
    assert bootstrap_p(-np.r_[np.full(89, 0.2), np.full(10, -0.1)]) == pytest.approx(2 * 11 / 100)
    assert bootstrap_p(np.zeros(50)) == 1.0 and np.isnan(bootstrap_p(np.array([np.nan])))
