"""Bootstrap confidence intervals, resampling clusters (users or sessions) when given.

Rows of one user or session are not independent, so the default resamples whole groups
(cluster bootstrap; Field & Welsh 2007, JRSS-B 69:369-390). Intervals (:func:`interval`) hold their estimate by
construction: the percentile interval where it holds the full-sample estimate; where it misses it (a skewed or
biased bootstrap distribution, few resamples), the bias-corrected percentile interval (Efron & Tibshirani 1993,
ch. 14: BCa without the acceleration term), which holds it whenever the estimate lies within the middle 95% of
the resamples; beyond that, the normal interval on the scale that keeps the quantity in its bounds (logit for a
share in [0, 1], Fisher's z for a correlation) with the resamples' standard error. None is clipped or widened.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = rng.integers(0, 2, 500); p = np.clip(y * 0.3 + rng.random(500) * 0.7, 0, 1)
    >>> ci = bootstrap_ci("auc", y, p, n_boot=200, seed=0)
    >>> ci.low < ci.estimate < ci.high
    True
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from culturecart.evaluate.metrics import get_metric_spec


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float
    n_boot: int
    method: str = "percentile"


def _transform(bounds: tuple[float, float] | None):
    """(to, back) of the scale on which a quantity within ``bounds`` is about normal."""
    if bounds == (0.0, 1.0):
        def to(v):
            v = np.clip(v, 1e-9, 1 - 1e-9)
            return np.log(v / (1 - v))
        return to, lambda t: 1 / (1 + np.exp(-t))
    if bounds == (-1.0, 1.0):
        return (lambda v: np.arctanh(np.clip(v, -1 + 1e-9, 1 - 1e-9))), np.tanh
    return (lambda v: v), (lambda t: t)


def interval(estimate: float, draws: np.ndarray, alpha: float = 0.05,
             bounds: tuple[float, float] | None = None) -> tuple[float, float, str]:
    """(low, high, method) of a bootstrap interval that holds ``estimate`` (see the module docstring).

    ``bounds``: (0, 1) for AUC, rates and shares, (-1, 1) for correlations: the normal fallback is computed on
    the logit or Fisher-z scale, so it stays inside them.

    Example:
        >>> draws = np.linspace(0.60, 0.70, 201)
        >>> interval(0.65, draws)[2], interval(0.72, draws, bounds=(0.0, 1.0))[2]
        ('percentile', 'normal (logit scale)')
        >>> low, high, _ = interval(0.72, draws, bounds=(0.0, 1.0)); low <= 0.72 <= high <= 1
        True
    """
    values = np.asarray(draws, float)
    values = values[np.isfinite(values)]
    if not np.isfinite(estimate) or len(values) < 2:
        return float("nan"), float("nan"), "none"
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2])
    if lo <= estimate <= hi:
        return float(lo), float(hi), "percentile"
    z = stats.norm.ppf(1 - alpha / 2)
    below = (np.mean(values < estimate) + 0.5 * np.mean(values == estimate))
    z0 = stats.norm.ppf(np.clip(below, 1e-12, 1 - 1e-12))
    if abs(z0) < z:
        lo, hi = np.quantile(values, [stats.norm.cdf(2 * z0 - z), stats.norm.cdf(2 * z0 + z)])
        if lo <= estimate <= hi:
            return float(lo), float(hi), "bias-corrected percentile"
    to, back = _transform(bounds)
    se = float(np.std(to(values), ddof=1))
    centre = float(to(np.asarray(estimate)))
    low, high = float(back(centre - z * se)), float(back(centre + z * se))
    scale = {(0.0, 1.0): " (logit scale)", (-1.0, 1.0): " (Fisher z scale)"}.get(bounds, "")
    return min(low, estimate), max(high, estimate), f"normal{scale}"  # rounding at the bounds only


_RECENT: dict[tuple, _Draws] = {}  # the last few resampling plans: a grid bootstraps many runs on one plan


def _draws(n: int, clusters: np.ndarray | None, n_boot: int, seed: int) -> _Draws:
    """The resampling plan for these rows, clusters, replicates and seed (reused while they repeat)."""
    if clusters is not None and clusters.dtype.kind not in "iub":
        return _Draws(n, clusters, n_boot, seed)  # ids of other types are not cheap to key on
    digest = None if clusters is None else hashlib.sha1(np.ascontiguousarray(clusters).view(np.uint8)).hexdigest()
    key = (n, digest, n_boot, seed)
    if key not in _RECENT:
        if len(_RECENT) >= 4:
            _RECENT.pop(next(iter(_RECENT)))
        _RECENT[key] = _Draws(n, clusters, n_boot, seed)
    return _RECENT[key]


class _Draws:
    """The resamples of a bootstrap: which rows (or clusters) each replicate draws, in draw order.

    One ``rng.integers`` call per replicate, as a loop over replicates would make, so every path below sees
    the same resamples for the same seed.
    """

    def __init__(self, n: int, clusters: np.ndarray | None, n_boot: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.clustered = clusters is not None
        if clusters is None:
            self.unit_of_row = np.arange(n)
            units = n
        else:
            uniq, inverse = np.unique(clusters, return_inverse=True)
            self.unit_of_row, units = inverse.ravel(), len(uniq)
        self.picks = np.stack([rng.integers(0, units, units) for _ in range(n_boot)]) if n_boot else \
            np.zeros((0, units), np.int64)
        self.units = units
        self._weights: tuple[slice, np.ndarray] | None = None

    @functools.cached_property
    def members(self) -> list[np.ndarray] | None:
        """Rows of each cluster (for the resample loop only)."""
        if not self.clustered:
            return None
        order = np.argsort(self.unit_of_row, kind="stable")
        return np.split(order, np.flatnonzero(np.diff(self.unit_of_row[order])) + 1)

    def unit_counts(self, chunk: slice) -> np.ndarray:
        """Times each unit (row or cluster) is drawn, per replicate of ``chunk`` (replicates x units)."""
        picks = self.picks[chunk]
        offsets = (np.arange(len(picks)) * self.units)[:, None]
        return np.bincount((picks + offsets).ravel(), minlength=len(picks) * self.units).reshape(
            len(picks), self.units).astype(float)

    def row_weights(self, chunk: slice) -> np.ndarray:
        """Times each row is drawn, per replicate of ``chunk``; kept when one chunk holds every replicate."""
        if self._weights is not None and self._weights[0] == chunk:
            return self._weights[1]
        w = self.unit_counts(chunk)[:, self.unit_of_row]
        if chunk == slice(0, len(self.picks)) or (chunk.start == 0 and chunk.stop >= len(self.picks)):
            self._weights = (chunk, w)
        return w

    def chunks(self, n_rows: int):
        step = max(1, _CHUNK_CELLS // max(n_rows, 1))
        return (slice(i, i + step) for i in range(0, len(self.picks), step))

    def indices(self, b: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Row indices of replicate ``b`` and, for cluster resampling, the draw number of each row."""
        picks = self.picks[b]
        if self.members is None:
            return picks, None
        idx = np.concatenate([self.members[i] for i in picks])
        draw = np.repeat(np.arange(len(picks)), [len(self.members[i]) for i in picks])
        return idx, draw


_CHUNK_CELLS = 4_000_000  # replicates x rows held at once by the weighted path (32 MB of float64)


def _replicate_values(spec, y: np.ndarray, preds: list[np.ndarray], groups: np.ndarray | None,
                      draws: _Draws) -> list[np.ndarray]:
    """The metric of each prediction vector on every replicate.

    Weighted forms where the metric has one (a resample is the data weighted by how often each row is drawn),
    the resample loop otherwise; both give the same values up to floating-point rounding (tested).
    """
    finite = all(np.isfinite(p).all() for p in preds)
    if spec.weighted is not None and finite and not spec.needs_groups:
        out = [[] for _ in preds]
        for chunk in draws.chunks(len(y)):
            w = draws.row_weights(chunk)
            for values, p in zip(out, preds, strict=True):
                values.append(spec.weighted(y, p, w))
        return [np.concatenate(v) for v in out]
    group_unit = _group_units(groups, draws)
    if spec.per_group is not None and group_unit is not None:
        out = []
        for p in preds:
            kept, per_group = spec.per_group(y, p, groups)
            values = []
            for chunk in draws.chunks(len(kept)):
                w = draws.unit_counts(chunk)[:, group_unit[kept]]
                values.append(np.divide(w @ per_group, w.sum(axis=1), out=np.full(len(w), np.nan),
                                        where=w.sum(axis=1) > 0))
            out.append(np.concatenate(values))
        return out
    out = [np.empty(len(draws.picks)) for _ in preds]
    for b in range(len(draws.picks)):
        idx, draw = draws.indices(b)
        g = _regroup(groups, idx, draw)
        for values, p in zip(out, preds, strict=True):
            values[b] = spec.fn(y[idx], p[idx], g)
    return out


def _group_units(groups: np.ndarray | None, draws: _Draws) -> np.ndarray | None:
    """The cluster of each group when clusters are resampled and every group lies inside one; else None."""
    if groups is None or not draws.clustered:
        return None
    unit = np.zeros(int(groups.max()) + 1 if len(groups) else 0, np.int64)
    unit[groups] = draws.unit_of_row
    return unit if np.array_equal(unit[groups], draws.unit_of_row) else None


def bootstrap_ci(metric: str, y: np.ndarray, p: np.ndarray, *, groups: np.ndarray | None = None,
                 clusters: np.ndarray | None = None, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0) -> Interval:
    """Percentile CI of one metric. ``groups`` feed ranking metrics; ``clusters`` set the resampling unit."""
    spec = get_metric_spec(metric)
    y, p = np.asarray(y), np.asarray(p, float)
    groups = _codes(groups)
    estimate = spec.fn(y, p, groups)
    draws = _draws(len(y), None if clusters is None else np.asarray(clusters), n_boot, seed)
    [values] = _replicate_values(spec, y, [p], groups, draws)
    lo, hi, method = interval(float(estimate), values, alpha, spec.bounds)
    return Interval(float(estimate), lo, hi, n_boot, method)


def bootstrap_mean_ci(metric: str, y: np.ndarray, preds: list[np.ndarray], *, clusters: np.ndarray | None = None,
                      n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> Interval:
    """CI of the mean of one metric over several prediction vectors of the same rows (a model's seeds), each
    resample scoring every vector on the same rows (the fast weighted path where the metric has one)."""
    spec = get_metric_spec(metric)
    y = np.asarray(y)
    preds = [np.asarray(p, float) for p in preds]
    estimate = float(np.mean([spec.fn(y, p, None) for p in preds]))
    draws = _draws(len(y), None if clusters is None else np.asarray(clusters), n_boot, seed)
    with np.errstate(invalid="ignore"):
        values = np.nanmean(np.vstack(_replicate_values(spec, y, preds, None, draws)), axis=0) \
            if len(draws.picks) else np.zeros(0)
    lo, hi, method = interval(estimate, values, alpha, spec.bounds)
    return Interval(estimate, lo, hi, n_boot, method)


def paired_mean_delta(metric: str, y: np.ndarray, preds_a: list[np.ndarray], preds_b: list[np.ndarray], *,
                      clusters: np.ndarray | None = None, n_boot: int = 1000, alpha: float = 0.05,
                      seed: int = 0) -> tuple[Interval, float]:
    """CI of mean metric(a's vectors) - mean metric(b's vectors) on the same resamples (two models, each over its
    seeds), and a two-sided bootstrap p-value."""
    spec = get_metric_spec(metric)
    y = np.asarray(y)
    a = [np.asarray(p, float) for p in preds_a]
    b = [np.asarray(p, float) for p in preds_b]
    estimate = float(np.mean([spec.fn(y, p, None) for p in a]) - np.mean([spec.fn(y, p, None) for p in b]))
    draws = _draws(len(y), None if clusters is None else np.asarray(clusters), n_boot, seed)
    values = _replicate_values(spec, y, a + b, None, draws)
    with np.errstate(invalid="ignore"):
        deltas = np.nanmean(np.vstack(values[:len(a)]), axis=0) - np.nanmean(np.vstack(values[len(a):]), axis=0)
    lo, hi, method = interval(estimate, deltas, alpha)
    return Interval(estimate, lo, hi, n_boot, method), bootstrap_p(deltas)


def paired_bootstrap_delta(metric: str, y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, *,
                           groups: np.ndarray | None = None, clusters: np.ndarray | None = None,
                           n_boot: int = 1000, alpha: float = 0.05, seed: int = 0) -> tuple[Interval, float]:
    """CI of metric(a) - metric(b) on the same resamples, and a two-sided bootstrap p-value."""
    spec = get_metric_spec(metric)
    y, p_a, p_b = np.asarray(y), np.asarray(p_a, float), np.asarray(p_b, float)
    groups = _codes(groups)
    estimate = spec.fn(y, p_a, groups) - spec.fn(y, p_b, groups)
    draws = _draws(len(y), None if clusters is None else np.asarray(clusters), n_boot, seed)
    a, b = _replicate_values(spec, y, [p_a, p_b], groups, draws)
    deltas = a - b
    lo, hi, method = interval(float(estimate), deltas, alpha)
    return Interval(float(estimate), lo, hi, n_boot, method), bootstrap_p(deltas)


def bootstrap_p(deltas: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "no difference" from the resampled differences, never 0: (1 + resamples on the
    far side of 0) / (1 + resamples), doubled (Davison & Hinkley 1997, ch. 4), so it says what B resamples can.

    Example:
        >>> bootstrap_p(np.full(199, 0.3))  # no resample reaches 0: p is bounded by the resolution, not 0
        0.01
    """
    finite = np.asarray(deltas, float)
    finite = finite[np.isfinite(finite)]
    if not len(finite):
        return float("nan")
    far = min(int((finite <= 0).sum()), int((finite >= 0).sum()))
    return float(min(1.0, 2 * (1 + far) / (1 + len(finite))))


def bootstrap_statistic(stat, n: int, *, clusters: np.ndarray | None = None, n_boot: int = 1000,
                        alpha: float = 0.05, seed: int = 0, bounds: tuple[float, float] | None = None) -> Interval:
    """CI (:func:`interval`) of any ``stat(idx)`` of row indices ``idx`` (all rows for the estimate).

    Example:
        >>> x = np.arange(10.0)
        >>> ci = bootstrap_statistic(lambda i: x[i].mean(), 10, n_boot=200, seed=0)
        >>> ci.estimate, ci.low < 4.5 < ci.high
        (4.5, True)
    """
    draws = _Draws(n, None if clusters is None else np.asarray(clusters), n_boot, seed)
    values = np.array([stat(draws.indices(b)[0]) for b in range(n_boot)], float)
    estimate = float(stat(np.arange(n)))
    lo, hi, method = interval(estimate, values, alpha, bounds)
    return Interval(estimate, lo, hi, n_boot, method)


def _codes(groups: np.ndarray | None) -> np.ndarray | None:
    return None if groups is None else pd.factorize(np.asarray(groups))[0].astype(np.int64)


def _regroup(codes: np.ndarray | None, idx: np.ndarray, draw: np.ndarray | None) -> np.ndarray | None:
    if codes is None:
        return None
    if draw is None:
        return codes[idx]
    # A cluster drawn twice must count as two groups, not one merged group.
    return codes[idx] * (int(draw.max()) + 1) + draw
