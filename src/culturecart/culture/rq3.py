"""RQ3: does one global model serve every country, or do local / culture-aware models do better?

Every scope is fitted on the same training rows and scored per country on the same test rows:
AUC (and the other metrics asked for) with cluster-bootstrap CIs (resampling users), DeLong's paired
test of each scope against the global model, the cultural-fit score of each scope with its CI, and a
winner table: per country the best scope, the runner-up, DeLong's p for the difference and the
Benjamini-Hochberg adjusted p across countries (a winner is "significant" when the adjusted p < alpha).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from culturecart.culture.fit_score import COUNTRY_SPECIFIC, cultural_fit_interval
from culturecart.culture.scopes import SCOPES, ScopedModel, fit_scope
from culturecart.evaluate.bootstrap import bootstrap_ci
from culturecart.evaluate.delong import delong_test
from culturecart.evaluate.multitest import benjamini_hochberg as _bh
from culturecart.evaluate.splits import Split
from culturecart.models.features import ModalityData

MIN_CLASS_ROWS = 5  # purchases and non-purchases a country's test rows need before its AUCs are compared


def comparable_countries(country: np.ndarray, y: np.ndarray, min_rows: int) -> list[str]:
    """Countries whose test rows (``country``, labels ``y``) number ``min_rows`` or more with at least
    :data:`MIN_CLASS_ROWS` of each class: with fewer, an AUC and DeLong's variance (it needs two of each class at
    the very least) are too unstable to compare.

    Example:
        >>> comparable_countries(np.array(["DE"] * 20 + ["FR"] * 20), np.array([0, 1] * 10 + [1] + [0] * 19), 10)
        ['DE']
    """
    out = []
    for k in sorted({c for c in country if isinstance(c, str)}):
        rows = country == k
        positives = int(y[rows].sum())
        if rows.sum() >= min_rows and min(positives, int(rows.sum()) - positives) >= MIN_CLASS_ROWS:
            out.append(str(k))
    return out


@dataclass
class ScopeComparison:
    table: pd.DataFrame  # tidy: question, model, scope, country, metric, value, ci_low, ci_high, test, p_value, p_adjusted
    winners: pd.DataFrame  # one row per country
    predictions: dict[str, np.ndarray] = field(default_factory=dict)  # scope -> test predictions
    models: dict[str, ScopedModel] = field(default_factory=dict)


def compare_scopes(data: ModalityData, split: Split, model: str = "lightgbm", scopes: Sequence[str] = SCOPES, *,
                   profiles: pd.DataFrame | None = None, metrics: Sequence[str] = ("roc_auc",),
                   n_boot: int = 300, alpha: float = 0.05, seed: int = 0, n_jobs: int = 1,
                   backend: str = "loky", **overrides: object) -> ScopeComparison:
    """Fit each scope of ``model`` and compare them per country of the test rows."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s) {unknown}; valid: {list(SCOPES)}")
    train, valid, test = data.rows(split.train), data.rows(split.valid), data.rows(split.test)
    fitted = {s: fit_scope(s, model, train, valid, profiles=profiles, n_jobs=n_jobs, backend=backend, seed=seed,
                           **overrides) for s in scopes}
    result = score_scopes({s: m.predict_proba(test) for s, m in fitted.items()}, test, model, metrics=metrics,
                          n_boot=n_boot, alpha=alpha, seed=seed)
    result.models = fitted
    return result


def score_scopes(preds: dict[str, np.ndarray], test: ModalityData, model: str = "lightgbm", *,
                 metrics: Sequence[str] = ("roc_auc",), n_boot: int = 300, alpha: float = 0.05,
                 seed: int = 0) -> ScopeComparison:
    """Per-country table and winners from each scope's predictions on the test rows."""
    countries = test.meta["country"].astype(object).to_numpy()
    users = np.unique(test.meta["user_id"].to_numpy(), return_inverse=True)[1].ravel()  # codes in id order
    sessions = test.meta["session_id"].to_numpy()
    rows, win_rows = [], []
    for country in sorted({c for c in countries if isinstance(c, str)}):
        idx = np.flatnonzero(countries == country)
        y = test.y[idx]
        if y.min() == y.max():
            continue
        ok = {s: p[idx] for s, p in preds.items() if np.isfinite(p[idx]).all()}
        auc = {}
        for s, p in ok.items():
            for metric in metrics:
                ci = bootstrap_ci(metric, y, p, groups=sessions[idx], clusters=users[idx], n_boot=n_boot, seed=seed)
                rows.append({"scope": s, "country": country, "metric": metric, "value": ci.estimate,
                             "ci_low": ci.low, "ci_high": ci.high})
                if metric == "roc_auc":
                    auc[s] = ci.estimate
        if not auc:
            continue
        if "global" in ok:
            for s, p in ok.items():
                if s != "global":
                    t = delong_test(y, p, ok["global"])
                    rows.append({"scope": s, "country": country, "metric": "auc_delta_vs_global",
                                 "value": t.delta, "ci_low": t.ci_low, "ci_high": t.ci_high,
                                 "test": "DeLong vs global", "p_value": t.p_value})
        specific = [s for s in COUNTRY_SPECIFIC if s in auc] or list(auc)
        best = max(specific, key=auc.get)
        for s, p in ok.items():
            ci = cultural_fit_interval(y, p, ok[best], users[idx], n_boot=n_boot, seed=seed)
            rows.append({"scope": s, "country": country, "metric": "cultural_fit_score", "value": ci.estimate,
                         "ci_low": ci.low, "ci_high": ci.high, "test": f"relative to {best}"})
        ranked = sorted(auc, key=auc.get, reverse=True)
        winner = ranked[0]
        runner = ranked[1] if len(ranked) > 1 else None
        t = delong_test(y, ok[winner], ok[runner]) if runner else None
        win_rows.append({"country": country, "winner": winner, "runner_up": runner, "auc_winner": auc[winner],
                         "auc_runner_up": auc.get(runner, np.nan), "delta": t.delta if t else np.nan,
                         "p_value": t.p_value if t else np.nan, "n_test_rows": len(idx)})
    table = pd.DataFrame(rows)
    for col in ("test", "p_value"):
        if col not in table:
            table[col] = np.nan
    table["p_adjusted"] = np.nan
    delta_rows = table["metric"] == "auc_delta_vs_global"
    for s in table.loc[delta_rows, "scope"].unique():
        sel = delta_rows & (table["scope"] == s)
        table.loc[sel, "p_adjusted"] = _bh(table.loc[sel, "p_value"])
    table.insert(0, "model", model)
    table.insert(0, "question", "RQ3")
    winners = pd.DataFrame(win_rows)
    if not winners.empty:
        winners["p_adjusted"] = _bh(winners["p_value"])
        winners["significant"] = winners["p_adjusted"] < alpha
    return ScopeComparison(table, winners, preds)
