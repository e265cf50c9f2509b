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

from culturecart.evaluate.bootstrap import bootstrap_ci, paired_bootstrap_delta
from culturecart.evaluate.delong import delong_test
from culturecart.evaluate.multitest import benjamini_hochberg
from culturecart.evaluate.splits import Split
from culturecart.models.features import ModalityData
from culturecart.models.registry import create_model, model_spec
from culturecart.parallel import parallel_map

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


def grid_jobs(data: ModalityData, models: Sequence[str] = ("logistic", "lightgbm"),
              subsets: Sequence[Sequence[str]] | str = "all",
              extra_runs: Sequence[tuple[str, Sequence[str]]] = ()) -> list[tuple[str, tuple[str, ...]]]:
    """The (model, modality subset) runs of a grid; unimodal ladder models run once on their own modality."""
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
    return list(dict.fromkeys(jobs))


def fit_predict(name: str, subset: Sequence[str], data: ModalityData, split: Split, seed: int = 0,
                verbose: bool = False, options: dict | None = None) -> tuple[np.ndarray, object]:
    """Fit one grid run on the train rows (valid for early stopping) and predict the test rows.

    ``options`` override the model's config (e.g. ``{"epochs": 5}``).
    """
    started = time.perf_counter()
    options = dict(options or {})
    if not model_spec(name).defaults.get("modalities"):
        options["modalities"] = list(subset)
    model = create_model(name, seed=seed, **options)
    model.fit(data.rows(split.train), data.rows(split.valid))
    p = model.predict_proba(data.rows(split.test))
    if verbose:
        print(f"  fitted {name}[{'+'.join(subset)}] in {time.perf_counter() - started:.1f}s", flush=True)
    return p, model


def _fit_one(name, subset, data, split, seed, keep, verbose):
    p, model = fit_predict(name, subset, data, split, seed, verbose)
    return name, tuple(subset), p, (model if keep else None)


def run_grid(data: ModalityData, split: Split, models: Sequence[str] = ("logistic", "lightgbm"),
             subsets: Sequence[Sequence[str]] | str = "all", metrics: Sequence[str] = DEFAULT_METRICS,
             n_boot: int = 200, seed: int = 0, n_jobs: int = 1, keep_models: bool = False,
             extra_runs: Sequence[tuple[str, Sequence[str]]] = (), verbose: bool = False,
             backend: str = "loky") -> GridResult:
    """Fit and score every (model, subset) of :func:`grid_jobs`.

    ``extra_runs`` adds single (model, subset) pairs (e.g. an expensive model on a few subsets only).
    """
    jobs = grid_jobs(data, models, subsets, extra_runs)
    results = parallel_map(_fit_one, [(n, s, data, split, seed, keep_models, verbose) for n, s in jobs], n_jobs,
                           backend)
    result = score_grid({(n, s): p for n, s, p, _ in results}, data.rows(split.test), metrics, n_boot, seed)
    result.models = {(n, s): m for n, s, _, m in results if m is not None}
    return result


def score_grid(predictions: dict[tuple[str, tuple[str, ...]], np.ndarray], test: ModalityData,
               metrics: Sequence[str] = DEFAULT_METRICS, n_boot: int = 200, seed: int = 0) -> GridResult:
    """The tidy RQ1 table (CIs by user-cluster bootstrap, tests against the best unimodal run)."""
    y, groups = test.y, test.meta["session_id"].to_numpy()
    # Integer codes in sorted-id order: the same resamples as the ids themselves, without re-sorting strings
    # in every one of the hundreds of bootstrap calls below.
    clusters = np.unique(test.meta["user_id"].to_numpy(), return_inverse=True)[1].ravel()
    rows = []
    for (name, subset), p in predictions.items():
        for metric in metrics:
            ci = bootstrap_ci(metric, y, p, groups=groups, clusters=clusters, n_boot=n_boot, seed=seed)
            rows.append({"question": "RQ1", "model": name, "modalities": "+".join(subset),
                         "n_modalities": len(subset), "metric": metric, "value": ci.estimate,
                         "ci_low": ci.low, "ci_high": ci.high})
    result = GridResult(pd.DataFrame(rows), dict(predictions), y, clusters, groups)
    result.table = _add_tests(result, n_boot, seed)
    for col in ("test", "p_value", "p_value_bootstrap"):  # one schema, with or without a unimodal reference
        if col not in result.table:
            result.table[col] = np.nan
    result.table["p_adjusted"] = benjamini_hochberg(result.table["p_value"])  # BH over all lift tests
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
