"""RQ1: every model x every modality subset on the same split, one tidy table with CIs and tests.

Each run fits on the train rows (validation rows for early stopping and calibration) and is scored
on the test rows. Every metric gets a cluster-bootstrap CI (resampling users). Every run is compared
with the best unimodal run (highest test AUC among single-modality runs) by DeLong's test and a
paired bootstrap CI of the AUC lift.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from culturecart.evaluate.bootstrap import bootstrap_ci, paired_bootstrap_delta
from culturecart.evaluate.delong import delong_test
from culturecart.evaluate.splits import Split
from culturecart.models.features import ModalityData
from culturecart.models.registry import create_model, model_spec

DEFAULT_METRICS = ("roc_auc", "pr_auc", "log_loss", "brier", "ece", "ndcg@10", "mrr")


def all_subsets(modalities: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset, smallest first."""
    return [c for r in range(1, len(modalities) + 1) for c in itertools.combinations(modalities, r)]


@dataclass
class GridResult:
    table: pd.DataFrame
    predictions: dict[tuple[str, tuple[str, ...]], np.ndarray] = field(default_factory=dict)
    y: np.ndarray | None = None
    clusters: np.ndarray | None = None
    groups: np.ndarray | None = None
    models: dict[tuple[str, tuple[str, ...]], object] = field(default_factory=dict)

    def auc(self, model: str, modalities: Iterable[str]) -> float:
        key = (model, tuple(modalities))
        row = self.table[(self.table["model"] == model) & (self.table["modalities"] == "+".join(key[1]))
                         & (self.table["metric"] == "roc_auc")]
        return float(row["value"].iat[0])

    def subset_values(self, model: str, metric: str = "roc_auc") -> dict[frozenset[str], float]:
        """Metric of ``model`` per modality subset (for Shapley values and ablations)."""
        t = self.table[(self.table["model"] == model) & (self.table["metric"] == metric)]
        return {frozenset(m.split("+")): float(v) for m, v in zip(t["modalities"], t["value"], strict=True)}


def _fit_one(name: str, subset: tuple[str, ...], data: ModalityData, split: Split, seed: int, keep: bool,
             verbose: bool):
    started = time.perf_counter()
    model = create_model(name, seed=seed) if model_spec(name).defaults.get("modalities") else \
        create_model(name, seed=seed, modalities=list(subset))
    model.fit(data.rows(split.train), data.rows(split.valid))
    p = model.predict_proba(data.rows(split.test))
    if verbose:
        print(f"  fitted {name}[{'+'.join(subset)}] in {time.perf_counter() - started:.1f}s", flush=True)
    return name, subset, p, (model if keep else None)


def run_grid(data: ModalityData, split: Split, models: Sequence[str] = ("logistic", "lightgbm"),
             subsets: Sequence[Sequence[str]] | str = "all", metrics: Sequence[str] = DEFAULT_METRICS,
             n_boot: int = 200, seed: int = 0, n_jobs: int = 1, keep_models: bool = False,
             extra_runs: Sequence[tuple[str, Sequence[str]]] = (), verbose: bool = False) -> GridResult:
    """Fit and score every (model, subset); unimodal ladder models run once on their own modality.

    ``extra_runs`` adds single (model, subset) pairs (e.g. an expensive model on a few subsets only).
    """
    wanted = all_subsets(data.modalities) if subsets == "all" else [tuple(s) for s in subsets]
    jobs = []
    for name in models:
        fixed = model_spec(name).defaults.get("modalities")
        if fixed:
            if set(fixed) <= set(data.modalities):
                jobs.append((model_spec(name).name, tuple(fixed)))
        else:
            jobs += [(model_spec(name).name, s) for s in wanted]
    jobs += [(model_spec(n).name, tuple(s)) for n, s in extra_runs]
    jobs = list(dict.fromkeys(jobs))
    results = Parallel(n_jobs=n_jobs)(delayed(_fit_one)(n, s, data, split, seed, keep_models, verbose) for n, s in jobs)
    test = data.rows(split.test)
    y, clusters, groups = test.y, test.meta["user_id"].to_numpy(), test.meta["session_id"].to_numpy()
    preds = {(n, s): p for n, s, p, _ in results}
    rows = []
    for (name, subset), p in preds.items():
        for metric in metrics:
            ci = bootstrap_ci(metric, y, p, groups=groups, clusters=clusters, n_boot=n_boot, seed=seed)
            rows.append({"question": "RQ1", "model": name, "modalities": "+".join(subset),
                         "n_modalities": len(subset), "metric": metric, "value": ci.estimate,
                         "ci_low": ci.low, "ci_high": ci.high})
    table = pd.DataFrame(rows)
    result = GridResult(table, preds, y, clusters, groups, {(n, s): m for n, s, _, m in results if m is not None})
    result.table = _add_tests(result, n_boot, seed)
    return result


def _add_tests(result: GridResult, n_boot: int, seed: int) -> pd.DataFrame:
    t = result.table
    auc = t[t["metric"] == "roc_auc"]
    uni = auc[auc["n_modalities"] == 1]
    if uni.empty:
        return t
    best = uni.loc[uni["value"].idxmax()]
    ref_key = (best["model"], tuple(best["modalities"].split("+")))
    ref = result.predictions[ref_key]
    extra = []
    for (name, subset), p in result.predictions.items():
        if (name, subset) == ref_key:
            continue
        test = delong_test(result.y, p, ref)
        lift, p_boot = paired_bootstrap_delta("roc_auc", result.y, p, ref, clusters=result.clusters,
                                              n_boot=n_boot, seed=seed)
        extra.append({"question": "RQ1", "model": name, "modalities": "+".join(subset), "n_modalities": len(subset),
                      "metric": "auc_lift_vs_best_unimodal", "value": lift.estimate, "ci_low": lift.low,
                      "ci_high": lift.high, "test": f"DeLong vs {ref_key[0]}[{'+'.join(ref_key[1])}]",
                      "p_value": test.p_value, "p_value_bootstrap": p_boot})
    return pd.concat([t, pd.DataFrame(extra)], ignore_index=True)
