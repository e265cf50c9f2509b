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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

Metric = Callable[..., float]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    fn: Metric
    higher_is_better: bool
    needs_groups: bool = False


def roc_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Area under the ROC curve (NaN when only one class is present)."""
    y = np.asarray(y)
    if y.min() == y.max():
        return float("nan")
    return float(skm.roc_auc_score(y, p))


def pr_auc(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Average precision (area under the precision-recall curve, step-wise as in scikit-learn)."""
    y = np.asarray(y)
    if y.max() == 0:
        return float("nan")
    return float(skm.average_precision_score(y, p))


def log_loss(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7]."""
    return float(skm.log_loss(y, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))


def brier(y: np.ndarray, p: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Mean squared error of the probabilities."""
    return float(skm.brier_score_loss(y, p))


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


def _ranked(y: np.ndarray, p: np.ndarray, groups: np.ndarray) -> pd.DataFrame:
    if groups is None:
        raise ValueError("ranking metrics need groups (session or user ids)")
    frame = pd.DataFrame({"g": groups, "y": np.asarray(y, float), "p": np.asarray(p, float)})
    has_pos = frame.groupby("g")["y"].transform("max") > 0
    frame = frame[has_pos]
    # Ties broken by row order, so every metric is deterministic.
    frame = frame.assign(order=np.arange(len(frame))).sort_values(["g", "p", "order"], ascending=[True, False, True])
    frame["rank"] = frame.groupby("g").cumcount() + 1
    return frame


def ndcg_at_k(y, p, groups=None, k: int = 10) -> float:
    """Mean over groups with a positive of DCG@k / ideal DCG@k (binary gains, log2 discount)."""
    f = _ranked(y, p, groups)
    if f.empty:
        return float("nan")
    f["gain"] = np.where(f["rank"] <= k, f["y"] / np.log2(f["rank"] + 1), 0.0)
    dcg = f.groupby("g")["gain"].sum()
    n_pos = f.groupby("g")["y"].sum()
    ideal = n_pos.map(lambda n: float(np.sum(1.0 / np.log2(np.arange(2, min(int(n), k) + 2)))))
    return float((dcg / ideal).mean())


def precision_at_k(y, p, groups=None, k: int = 10) -> float:
    """Mean over groups with a positive of (positives in the top k) / k."""
    f = _ranked(y, p, groups)
    if f.empty:
        return float("nan")
    return float(f[f["rank"] <= k].groupby("g")["y"].sum().div(k).mean())


def recall_at_k(y, p, groups=None, k: int = 10) -> float:
    """Mean over groups with a positive of (positives in the top k) / positives."""
    f = _ranked(y, p, groups)
    if f.empty:
        return float("nan")
    top = f[f["rank"] <= k].groupby("g")["y"].sum()
    return float((top / f.groupby("g")["y"].sum()).mean())


def mrr(y, p, groups=None, k: int | None = None) -> float:
    """Mean reciprocal rank of the first positive per group (0 when it ranks below ``k``)."""
    f = _ranked(y, p, groups)
    if f.empty:
        return float("nan")
    first = f[f["y"] > 0].groupby("g")["rank"].min()
    rr = 1.0 / first
    if k is not None:
        rr = rr.where(first <= k, 0.0)
    return float(rr.mean())


_FIXED: dict[str, MetricSpec] = {
    "roc_auc": MetricSpec("roc_auc", roc_auc, True),
    "pr_auc": MetricSpec("pr_auc", pr_auc, True),
    "log_loss": MetricSpec("log_loss", log_loss, False),
    "brier": MetricSpec("brier", brier, False),
    "ece": MetricSpec("ece", ece, False),
    "mrr": MetricSpec("mrr", mrr, True, needs_groups=True),
}
_ALIASES = {"auc": "roc_auc", "auroc": "roc_auc", "roc-auc": "roc_auc", "average_precision": "pr_auc",
            "aupr": "pr_auc", "ap": "pr_auc", "pr-auc": "pr_auc", "logloss": "log_loss", "nll": "log_loss",
            "bce": "log_loss", "brier_score": "brier", "calibration_error": "ece"}
_AT_K = {"ndcg": ndcg_at_k, "precision": precision_at_k, "p": precision_at_k, "recall": recall_at_k,
         "r": recall_at_k, "mrr": mrr}
_AT_K_CANONICAL = {"ndcg": "ndcg", "precision": "precision", "p": "precision", "recall": "recall",
                   "r": "recall", "mrr": "mrr"}


def get_metric_spec(name: str) -> MetricSpec:
    """Spec for a metric name, alias or ``<ranking>@k`` (``ndcg@10``, ``p@5``, ``recall_at_20``, ``mrr@100``)."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key in _FIXED:
        return _FIXED[key]
    match = re.fullmatch(r"(ndcg|precision|p|recall|r|mrr)(?:@|_at_)(\d+)", key)
    if match:
        base, k = match.group(1), int(match.group(2))
        fn = _AT_K[base]
        canonical = f"{_AT_K_CANONICAL[base]}@{k}"

        def at_k(y, p, groups=None, _fn=fn, _k=k):
            return _fn(y, p, groups, k=_k)

        return MetricSpec(canonical, at_k, True, needs_groups=True)
    raise KeyError(f"unknown metric {name!r}; valid: {sorted(_FIXED)} and ndcg@k, precision@k, recall@k, "
                   f"mrr@k; aliases {sorted(_ALIASES)}")


def get_metric(name: str) -> Metric:
    """The metric function for a name or alias."""
    return get_metric_spec(name).fn
