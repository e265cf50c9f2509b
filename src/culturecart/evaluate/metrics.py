"""Metrics by name (registry with aliases): classification, calibration and per-group ranking.

Every metric has the signature ``metric(y, p, groups=None) -> float``; ranking metrics rank the
rows within each group (a session or a user) by ``p`` and average over groups that contain at
least one positive. Classification metrics delegate to scikit-learn where it has them.

Example:
    >>> import numpy as np
    >>> y, p = np.array([0, 1, 1, 0]), np.array([0.1, 0.8, 0.4, 0.3])
    >>> get_metric("auc")(y, p)
    1.0
    >>> round(get_metric("ndcg@2")(y, p, groups=np.array([0, 0, 1, 1])), 4)
    1.0
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata
from sklearn import metrics as skm

from culturecart.registry import Entry, Pattern, Registry, import_target

Metric = Callable[..., float]


@dataclass(frozen=True)
class MetricSpec:
    """A metric and, where it has them, its weighted forms for fast bootstraps.

    ``weighted(y, p, w)`` evaluates the metric under each row of a weight matrix ``w`` (replicates x rows) at
    once: integer weights equal the metric on the rows repeated that many times (a bootstrap resample).
    ``per_group(y, p, groups)`` gives a ranking metric's value per group that has a positive (the metric is
    their mean), so a resample that repeats whole groups is a weighted mean of the same values.
    """

    name: str
    fn: Metric
    higher_is_better: bool
    needs_groups: bool = False
    weighted: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None
    per_group: Callable[..., tuple[np.ndarray, np.ndarray]] | None = None
    bounds: tuple[float, float] | None = (0.0, 1.0)  # the values it can take (log-loss has no upper bound)


def roc_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Area under the ROC curve (NaN when only one class is present).

    The Mann-Whitney form with mid-ranks for ties (equal to scikit-learn's ``roc_auc_score``; tested),
    several times faster, which matters inside bootstrap loops.
    """
    y = np.asarray(y).astype(bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(p, float))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _tie_runs(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by score: the order, which sorted rows are positive, and each sorted row's first and last
    position among the rows with the same score."""
    p = np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    ps = p[order]
    n = len(ps)
    changes = ps[1:] != ps[:-1]
    first = np.maximum.accumulate(np.where(np.r_[True, changes], np.arange(n), 0)) if n else np.zeros(0, int)
    last = np.minimum.accumulate(np.where(np.r_[changes, True], np.arange(n), n)[::-1])[::-1] if n else \
        np.zeros(0, int)
    return order, np.asarray(y)[order].astype(bool), first, last


def roc_auc_weighted(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """AUC under each weight row: weighted pairs won plus half the weighted ties (NaN without both classes).

    One sort, one cumulative sum of negative weight along the sorted rows, then lookups at the positives only
    (the rare class in purchase data), so a whole bootstrap costs little more than one AUC per replicate.
    """
    order, pos, first, last = _tie_runs(y, p)
    n = len(order)
    ws = w[:, order]
    negatives = np.zeros((len(w), n + 1))
    np.cumsum(np.where(pos, 0.0, ws), axis=1, out=negatives[:, 1:])  # negatives[:, k]: weight of rows < k
    below = negatives[:, first[pos]]
    tied = negatives[:, last[pos] + 1] - below
    wpos = ws[:, pos]
    won = (wpos * (below + 0.5 * tied)).sum(axis=1)
    total_pos = wpos.sum(axis=1)
    return _safe_ratio(won, total_pos * (negatives[:, -1]))


def pr_auc_weighted(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average precision under each weight row (scikit-learn's step-wise definition, thresholds at ties).

    AP = sum over positive rows i of (w_i / total positive weight) x precision at i's score, where the
    precision at a score counts every row scoring at least that much (its whole tie run).
    """
    order, pos, first, _ = _tie_runs(y, p)
    n, first = len(order), first[pos]  # the tie-run start of each positive
    ws = w[:, order]
    weight_below = np.zeros((len(w), n + 1))
    np.cumsum(ws, axis=1, out=weight_below[:, 1:])  # weight_below[:, k]: weight of rows < k
    wpos = ws[:, pos]
    pos_below = np.zeros((len(w), wpos.shape[1] + 1))
    np.cumsum(wpos, axis=1, out=pos_below[:, 1:])
    rank_of_first = np.searchsorted(np.flatnonzero(pos), first)  # positives before each tie run starts
    total_pos = pos_below[:, -1:]
    hits = total_pos - pos_below[:, rank_of_first]  # positive weight scoring >= the row's score
    seen = weight_below[:, -1:] - weight_below[:, first]  # all weight scoring >= the row's score
    precision = np.nan_to_num(_safe_ratio(hits, seen))
    ap = (wpos * precision).sum(axis=1)
    return np.where(total_pos[:, 0] > 0, _safe_ratio(ap, total_pos[:, 0]), np.nan)


def _weighted_mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    return _safe_ratio(w @ values, w.sum(axis=1))


def pr_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Average precision (area under the precision-recall curve, step-wise as in scikit-learn)."""
    y = np.asarray(y)
    if y.max() == 0:
        return float("nan")
    return float(skm.average_precision_score(y, p))


def log_loss(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7]."""
    y, p = np.asarray(y, float), np.clip(np.asarray(p, float), 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)))


def brier(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Mean squared error of the probabilities."""
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2))


def reliability_curve(y: np.ndarray, p: np.ndarray, n_bins: int = 15) -> pd.DataFrame:
    """Equal-width bins on [0, 1]: count, mean predicted probability, observed rate per bin."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    frame = pd.DataFrame({"bin": bins, "p": p, "y": y}).groupby("bin").agg(
        count=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
    frame["bin_low"] = frame.index / n_bins
    frame["bin_high"] = (frame.index + 1) / n_bins
    return frame.reset_index(drop=True)


def ece(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None, n_bins: int = 15) -> float:
    """Expected calibration error: sum over bins of (share of rows) x |observed rate - mean prediction|."""
    curve = reliability_curve(y, p, n_bins)
    weights = curve["count"] / curve["count"].sum()
    return float((weights * (curve["observed_rate"] - curve["mean_predicted"]).abs()).sum())


def ece_weighted(y: np.ndarray, p: np.ndarray, w: np.ndarray, n_bins: int = 15) -> np.ndarray:
    """ECE under each weight row: sum over bins of |weighted positives - weighted predictions| / total weight."""
    p = np.asarray(p, float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    member = np.zeros((len(p), n_bins))
    member[np.arange(len(p)), bins] = 1.0
    gap = (w @ (member * (np.asarray(y, float) - p)[:, None]))
    return _safe_ratio(np.abs(gap).sum(axis=1), w.sum(axis=1))


def _row_losses(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]):
    def weighted(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> np.ndarray:
        return _weighted_mean(fn(np.asarray(y, float), np.asarray(p, float)), w)
    return weighted


def _log_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


@dataclass(frozen=True)
class _Ranking:
    """Rows sorted by group, then by descending score (ties by row order), restricted to groups with a positive."""

    y: np.ndarray  # labels in ranked order
    rank: np.ndarray  # 1-based rank within the group
    starts: np.ndarray  # first row of each group
    n_pos: np.ndarray  # positives per group
    group: np.ndarray  # the group code of each kept group


def _ranked(y, p, groups) -> _Ranking:
    if groups is None:
        raise ValueError("ranking metrics need groups (session or user ids)")
    codes = pd.factorize(np.asarray(groups))[0] if not np.issubdtype(np.asarray(groups).dtype, np.integer) \
        else np.asarray(groups)
    y = np.asarray(y, float)
    p = np.asarray(p, float)
    order = np.lexsort((np.arange(len(y)), -p, codes))
    g, yy = codes[order], y[order]
    starts = np.r_[0, np.flatnonzero(np.diff(g)) + 1] if len(g) else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, len(g)])
    n_pos = np.add.reduceat(yy, starts) if len(g) else np.zeros(0)
    keep_group = n_pos > 0
    keep_row = np.repeat(keep_group, sizes)
    rank = (np.arange(len(g)) - np.repeat(starts, sizes) + 1)[keep_row]
    sizes = sizes[keep_group]
    new_starts = np.r_[0, np.cumsum(sizes)[:-1]] if len(sizes) else np.zeros(0, int)
    return _Ranking(yy[keep_row], rank, new_starts.astype(int), n_pos[keep_group], g[starts][keep_group])


def _per_group(values: np.ndarray, r: _Ranking) -> np.ndarray:
    return np.add.reduceat(values, r.starts)


def _ndcg_values(r: _Ranking, k: int) -> np.ndarray:
    dcg = _per_group(np.where(r.rank <= k, r.y / np.log2(r.rank + 1), 0.0), r)
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    return dcg / discounts[np.minimum(r.n_pos, k).astype(int) - 1]


def _precision_values(r: _Ranking, k: int) -> np.ndarray:
    return _per_group(np.where(r.rank <= k, r.y, 0.0), r) / k


def _recall_values(r: _Ranking, k: int) -> np.ndarray:
    return _per_group(np.where(r.rank <= k, r.y, 0.0), r) / r.n_pos


def _rr_values(r: _Ranking, k: int | None) -> np.ndarray:
    big = np.iinfo(np.int64).max
    first = np.minimum.reduceat(np.where(r.y > 0, r.rank, big), r.starts)
    rr = 1.0 / first
    return rr if k is None else np.where(first <= k, rr, 0.0)


def _group_metric(values: Callable[[_Ranking, int | None], np.ndarray]):
    """The metric (mean over groups with a positive) and its per-group form, from one per-group function."""
    def per_group(y, p, groups=None, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        r = _ranked(y, p, groups)
        return r.group, values(r, k) if len(r.starts) else np.zeros(0)

    def metric(y, p, groups=None, k: int | None = None) -> float:
        v = per_group(y, p, groups, k)[1]
        return float(np.mean(v)) if len(v) else float("nan")

    return metric, per_group


_ndcg, _ndcg_groups = _group_metric(_ndcg_values)
_precision, _precision_groups = _group_metric(_precision_values)
_recall, _recall_groups = _group_metric(_recall_values)
_mrr, _mrr_groups = _group_metric(_rr_values)


def ndcg_at_k(y, p, groups=None, k: int = 10) -> float:
    """Mean over groups with a positive of DCG@k / ideal DCG@k (binary gains, log2 discount)."""
    return _ndcg(y, p, groups, k)


def precision_at_k(y, p, groups=None, k: int = 10) -> float:
    """Mean over groups with a positive of (positives in the top k) / k."""
    return _precision(y, p, groups, k)


def recall_at_k(y, p, groups=None, k: int = 10) -> float:
    """Mean over groups with a positive of (positives in the top k) / positives."""
    return _recall(y, p, groups, k)


def mrr(y, p, groups=None, k: int | None = None) -> float:
    """Mean reciprocal rank of the first positive per group (0 when it ranks below ``k``)."""
    return _mrr(y, p, groups, k)


@dataclass(frozen=True)
class MetricEntry(Entry):
    """A metric in :data:`METRICS`: its function (``target``) and the names of its fast weighted forms."""

    higher_is_better: bool = True
    needs_groups: bool = False
    weighted: str | None = None  # attribute of this module: the metric under a matrix of row weights
    per_group: str | None = None  # attribute of this module: a ranking metric's value per group
    k: int | None = None  # the cut-off of ``<ranking>@k``
    bounds: tuple[float, float] | None = (0.0, 1.0)

    def spec(self) -> MetricSpec:
        module = import_target("culturecart.evaluate.metrics")
        fn = self.load()
        groups_fn = getattr(module, self.per_group) if self.per_group else None
        if self.k is not None:
            def at_k(y, p, groups=None, _fn=fn, _k=self.k):
                return _fn(y, p, groups, k=_k)

            def per_group(y, p, groups=None, _fn=groups_fn, _k=self.k):
                return _fn(y, p, groups, k=_k)

            return MetricSpec(self.name, at_k, self.higher_is_better, needs_groups=True, per_group=per_group)
        return MetricSpec(self.name, fn, self.higher_is_better, self.needs_groups,
                          getattr(module, self.weighted) if self.weighted else None, groups_fn, self.bounds)


_M = "culturecart.evaluate.metrics:"
_AT_K = {"ndcg": ("ndcg", "ndcg_at_k", "_ndcg_groups"), "precision": ("precision", "precision_at_k", "_precision_groups"),
         "p": ("precision", "precision_at_k", "_precision_groups"), "recall": ("recall", "recall_at_k", "_recall_groups"),
         "r": ("recall", "recall_at_k", "_recall_groups"), "mrr": ("mrr", "mrr", "_mrr_groups")}


def _at_k(match: re.Match) -> MetricEntry:
    name, fn, groups = _AT_K[match.group(1)]
    k = int(match.group(2))
    return MetricEntry(f"{name}@{k}", _M + fn, f"{name} of the top {k} per group", needs_groups=True,
                       per_group=groups, k=k)


_brier_weighted = _row_losses(lambda y, p: (p - y) ** 2)
_log_loss_weighted = _row_losses(_log_losses)

METRICS: Registry[MetricEntry] = Registry("metric", [
    MetricEntry("roc_auc", _M + "roc_auc", "area under the ROC curve", ("auc", "auroc"), weighted="roc_auc_weighted"),
    MetricEntry("pr_auc", _M + "pr_auc", "area under the precision-recall curve (average precision)",
                ("average_precision", "aupr", "ap"), weighted="pr_auc_weighted"),
    MetricEntry("log_loss", _M + "log_loss", "mean negative log-likelihood", ("logloss", "nll", "bce"),
                higher_is_better=False, weighted="_log_loss_weighted", bounds=None),
    MetricEntry("brier", _M + "brier", "mean squared error of the probabilities", ("brier_score",),
                higher_is_better=False, weighted="_brier_weighted"),
    MetricEntry("ece", _M + "ece", "expected calibration error (15 bins)", ("calibration_error",),
                higher_is_better=False, weighted="ece_weighted"),
    MetricEntry("mrr", _M + "mrr", "mean reciprocal rank of the first positive per group", needs_groups=True,
                per_group="_mrr_groups"),
], patterns=[Pattern(r"(ndcg|precision|p|recall|r|mrr)(?:@|-at-)(\d+)", "ndcg@10",
                     "a ranking metric at a cut-off: ndcg@k, precision@k, recall@k, mrr@k (per group)", _at_k)])


def get_metric_spec(name: str) -> MetricSpec:
    """Spec for a metric name, alias or ``<ranking>@k`` (``ndcg@10``, ``p@5``, ``recall_at_20``, ``mrr@100``);
    :class:`~culturecart.registry.UnknownNameError` lists the metrics otherwise."""
    return METRICS.resolve(name).spec()


def get_metric(name: str) -> Metric:
    """The metric function for a name or alias."""
    return get_metric_spec(name).fn


# ---- rank-based metrics for one relevant item per query (next-item and leave-one-out protocols) ----

def next_item_ranks(recommendations: Sequence[Sequence[str]], targets: Sequence[str]) -> np.ndarray:
    """1-based rank of each target in its list; 0 where absent.

    Example:
        >>> next_item_ranks([["a", "b"], ["c"]], ["b", "z"]).tolist()
        [2, 0]
    """
    return np.array([(list(r).index(t) + 1) if t in r else 0 for r, t in zip(recommendations, targets, strict=True)])


def mrr_at(ranks: np.ndarray, k: int = 100) -> np.ndarray:
    """Per-query reciprocal rank, 0 beyond ``k`` or absent (average it for MRR@k)."""
    return np.where((ranks > 0) & (ranks <= k), 1.0 / np.maximum(ranks, 1), 0.0)


def ndcg_at(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-query nDCG@k with one relevant item: 1 / log2(rank + 1) within the top k."""
    return np.where((ranks > 0) & (ranks <= k), 1.0 / np.log2(np.maximum(ranks, 1) + 1), 0.0)


def hr_at(ranks: np.ndarray, k: int = 10) -> np.ndarray:
    """Per-query hit (1.0 when the relevant item is in the top ``k``), averaged for HR@k.

    Example:
        >>> hr_at(np.array([1, 11, 0]), k=10).tolist()
        [1.0, 0.0, 0.0]
    """
    return ((ranks > 0) & (ranks <= k)).astype(float)


def rank_of_target(scores: np.ndarray, target: int = 0) -> int:
    """1-based rank of candidate ``target`` among ``scores`` (ties counted pessimistically: worst place).

    Example:
        >>> rank_of_target(np.array([0.5, 0.9, 0.5, 0.1]))
        3
    """
    return int((scores > scores[target]).sum() + (scores == scores[target]).sum())
