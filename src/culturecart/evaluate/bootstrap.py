"""Bootstrap confidence intervals, resampling clusters (users or sessions) when given.

Rows of one user or session are not independent, so the default resamples whole groups
(cluster bootstrap; Field & Welsh 2007, JRSS-B 69:369-390). Percentile intervals.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = rng.integers(0, 2, 500); p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    >>> ci = bootstrap_ci("auc", y, p, n_boot=200, seed=0)
    >>> ci.low < ci.estimate < ci.high
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from culturecart.evaluate.metrics import get_metric_spec


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n_boot: int


def _resample(n: int, rng: np.random.Generator,
              members: list[np.ndarray] | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Row indices of one bootstrap sample and, for cluster resampling, the draw number of each row."""
    if members is None:
        return rng.integers(0, n, n), None
    picks = rng.integers(0, len(members), len(members))
    idx = np.concatenate([members[i] for i in picks])
    draw = np.repeat(np.arange(len(picks)), [len(members[i]) for i in picks])
    return idx, draw


def _members(clusters: np.ndarray | None) -> list[np.ndarray] | None:
    if clusters is None:
        return None
    _, inverse = np.unique(clusters, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.diff(inverse[order])) + 1
    return np.split(order, bounds)


def bootstrap_ci(metric: str, y: np.ndarray, p: np.ndarray, *, groups: np.ndarray | None = None,
                 clusters: np.ndarray | None = None, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> Interval:
    """Percentile CI of one metric. ``groups`` feed ranking metrics; ``clusters`` set the resampling unit."""
    spec = get_metric_spec(metric)
    y, p = np.asarray(y), np.asarray(p, float)
    groups = _codes(groups)
    estimate = spec.fn(y, p, groups)
    rng = np.random.default_rng(seed)
    members = _members(None if clusters is None else np.asarray(clusters))
    values = []
    for _ in range(n_boot):
        idx, draw = _resample(len(y), rng, members)
        values.append(spec.fn(y[idx], p[idx], _regroup(groups, idx, draw)))
    lo, hi = np.nanquantile(values, [alpha / 2, 1 - alpha / 2])
    return Interval(float(estimate), float(lo), float(hi), n_boot)


def paired_bootstrap_delta(metric: str, y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, *,
                           groups: np.ndarray | None = None, clusters: np.ndarray | None = None,
                           n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[Interval, float]:
    """CI of metric(a) - metric(b) on the same resamples, and a two-sided bootstrap p-value."""
    spec = get_metric_spec(metric)
    y, p_a, p_b = np.asarray(y), np.asarray(p_a, float), np.asarray(p_b, float)
    groups = _codes(groups)
    estimate = spec.fn(y, p_a, groups) - spec.fn(y, p_b, groups)
    rng = np.random.default_rng(seed)
    members = _members(None if clusters is None else np.asarray(clusters))
    deltas = []
    for _ in range(n_boot):
        idx, draw = _resample(len(y), rng, members)
        g = _regroup(groups, idx, draw)
        deltas.append(spec.fn(y[idx], p_a[idx], g) - spec.fn(y[idx], p_b[idx], g))
    deltas = np.asarray(deltas)
    lo, hi = np.nanquantile(deltas, [alpha / 2, 1 - alpha / 2])
    finite = deltas[np.isfinite(deltas)]
    p_value = float(min(1.0, 2 * min((finite <= 0).mean(), (finite >= 0).mean()))) if len(finite) else float("nan")
    return Interval(float(estimate), float(lo), float(hi), n_boot), p_value


def bootstrap_statistic(stat, n: int, *, clusters: np.ndarray | None = None, n_boot: int = 1000,
                        alpha: float = 0.05, seed: int = 0) -> Interval:
    """Percentile CI of any ``stat(idx)`` of row indices ``idx`` (all rows for the estimate).

    Example:
        >>> x = np.arange(10.0)
        >>> ci = bootstrap_statistic(lambda i: x[i].mean(), 10, n_boot=200, seed=0)
        >>> ci.estimate, ci.low < 4.5 < ci.high
        (4.5, True)
    """
    rng = np.random.default_rng(seed)
    members = _members(None if clusters is None else np.asarray(clusters))
    values = np.array([stat(_resample(n, rng, members)[0]) for _ in range(n_boot)], float)
    lo, hi = np.nanquantile(values, [alpha / 2, 1 - alpha / 2]) if np.isfinite(values).any() else (np.nan, np.nan)
    return Interval(float(stat(np.arange(n))), float(lo), float(hi), n_boot)


def _codes(groups: np.ndarray | None) -> np.ndarray | None:
    return None if groups is None else pd.factorize(np.asarray(groups))[0].astype(np.int64)


def _regroup(codes: np.ndarray | None, idx: np.ndarray, draw: np.ndarray | None) -> np.ndarray | None:
    if codes is None:
        return None
    if draw is None:
        return codes[idx]
    # A cluster drawn twice must count as two groups, not one merged group.
    return codes[idx] * (int(draw.max()) + 1) + draw
