"""UCI Online Shoppers: stratified 5-fold CV of culturecart models against default LightGBM.

Every culturecart model is fitted on the four training folds with an inner stratified 15%
validation split (early stopping, calibration). The "best" model is chosen by its mean inner
validation AUC across folds, never by the test folds; its test-fold AUC / PR-AUC are reported.
Baseline: ``lightgbm.LGBMClassifier()`` with default settings on the same features and folds.
Published anchor: XGBoost 0.937 AUROC / 0.754 AUPR (Tanvir et al., Heliyon 2023).
``probes`` (information only, never used to choose ``best_model``): test-fold AUCs of alternatives that
could plausibly close a gap to the anchor, on the same folds: the LightGBM config on engineered ratio
features (pages, durations per page, PageValues per product page), rank averages of the LightGBM
out-of-fold scores with each other model's, and the logistic model without ``log_skewed``.
Usage: python benchmarks/shoppers.py [--models lightgbm,logistic,mlp,transformer]
"""

from __future__ import annotations

import argparse
import time

import lightgbm as lgb
import numpy as np
from _measure import emit, peak_rss_mb
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from culturecart.data.adapters import convert
from culturecart.models import build_features, create_model
from culturecart.paths import dataset_path

CONFIGS = {
    "lightgbm": {"learning_rate": 0.01, "num_leaves": 15, "min_child_samples": 40, "colsample_bytree": 0.6,
                 "reg_lambda": 5.0, "early_stopping_rounds": 200},
    "logistic": {"C": 0.5, "log_skewed": True},
    "mlp": {"epochs": 40, "patience": 6, "log_skewed": True},
    "transformer": {"epochs": 30, "patience": 5, "log_skewed": True},
}


def dense(data) -> np.ndarray:
    return np.concatenate([data.blocks[m] for m in data.modalities], axis=1)


def engineered(x: np.ndarray, names: list[str]) -> np.ndarray:
    """Append totals and ratios of the page aggregates that trees can only approximate with many splits."""
    col = {n: x[:, names.index(n)] for n in names}
    kinds = ("administrative", "informational", "product_related")
    pages = sum(np.nan_to_num(col[f"bhv_{k}"]) for k in kinds)
    time_on = sum(np.nan_to_num(col[f"bhv_{k}_duration"]) for k in kinds)
    extra = [pages, time_on, time_on / (pages + 1),
             col["bhv_product_related_duration"] / (col["bhv_product_related"] + 1),
             col["bhv_page_values"] / (col["bhv_product_related"] + 1),
             col["bhv_product_related"] / (pages + 1)]
    return np.column_stack([x, *extra])


def fold_rank(score: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Scores as ranks in [0, 1] within each test fold, so models on different scales can be averaged."""
    out = np.zeros(len(score))
    for _, test_idx in folds:
        out[test_idx] = rankdata(score[test_idx]) / len(test_idx)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default="lightgbm,logistic,mlp,transformer")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    t0 = time.perf_counter()
    data = build_features(convert("shoppers", dataset_path("uci_online_shoppers")))
    y = data.y
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=args.seed)
    names = args.models.split(",")
    oof = {n: np.zeros(len(y)) for n in [*names, "lightgbm_default"]}
    inner_auc = {n: [] for n in names}
    probe_oof = {"lightgbm_engineered": np.zeros(len(y)), "logistic_without_log_skewed": np.zeros(len(y))}
    x_engineered = engineered(dense(data), [n for m in data.modalities for n in data.names[m]])
    probe_config = {k: v for k, v in CONFIGS["lightgbm"].items() if k != "early_stopping_rounds"}
    split = list(folds.split(np.zeros(len(y)), y))
    for k, (train_idx, test_idx) in enumerate(split):
        fit_idx, valid_idx = train_test_split(train_idx, test_size=0.15, stratify=y[train_idx],
                                              random_state=args.seed + k)
        fit, valid, test = data.rows(fit_idx), data.rows(valid_idx), data.rows(test_idx)
        for name in names:
            model = create_model(name, seed=args.seed, **CONFIGS.get(name, {})).fit(fit, valid)
            inner_auc[name].append(roc_auc_score(valid.y, model.predict_proba(valid)))
            oof[name][test_idx] = model.predict_proba(test)
        base = lgb.LGBMClassifier(verbose=-1, random_state=args.seed).fit(dense(data.rows(train_idx)), y[train_idx])
        oof["lightgbm_default"][test_idx] = base.predict_proba(dense(test))[:, 1]
        if "lightgbm" in names:
            probe = lgb.LGBMClassifier(verbose=-1, random_state=args.seed, **probe_config, subsample=0.8,
                                       subsample_freq=1, n_estimators=600)
            probe_oof["lightgbm_engineered"][test_idx] = probe.fit(
                x_engineered[train_idx], y[train_idx]).predict_proba(x_engineered[test_idx])[:, 1]
        if "logistic" in names:
            plain = create_model("logistic", seed=args.seed, **{**CONFIGS["logistic"], "log_skewed": False})
            probe_oof["logistic_without_log_skewed"][test_idx] = plain.fit(fit, valid).predict_proba(test)
        print(f"fold {k}: " + ", ".join(f"{n} {roc_auc_score(test.y, oof[n][test_idx]):.4f}" for n in oof))
    test_auc = {n: roc_auc_score(y, p) for n, p in oof.items()}
    fold_auc = {n: [roc_auc_score(y[te], p[te]) for _, te in split] for n, p in oof.items()}
    best = max(names, key=lambda n: np.mean(inner_auc[n]))
    probes = {}
    if "logistic" in names:
        probes["logistic_without_log_skewed"] = probe_oof["logistic_without_log_skewed"]
    if "lightgbm" in names:
        probes["lightgbm_engineered"] = probe_oof["lightgbm_engineered"]
        for other in (n for n in names if n != "lightgbm"):
            probes[f"rank_mean_lightgbm_{other}"] = (fold_rank(oof["lightgbm"], split) + fold_rank(oof[other], split)) / 2
    probe_auc = {n: round(float(np.mean([roc_auc_score(y[te], p[te]) for _, te in split])), 4) for n, p in probes.items()}
    for n in oof:
        print(f"{n:>18}: AUC {test_auc[n]:.4f} (fold mean {np.mean(fold_auc[n]):.4f} +- {np.std(fold_auc[n]):.4f}), "
              f"PR-AUC {average_precision_score(y, oof[n]):.4f}"
              + (f", inner valid AUC {np.mean(inner_auc[n]):.4f}" if n in inner_auc else ""))
    emit({
        "best_model": best,
        "auc_best": round(float(np.mean(fold_auc[best])), 4),
        "pr_auc_best": round(float(np.mean([average_precision_score(y[te], oof[best][te])
                                            for _, te in split])), 4),
        "auc_lightgbm_default": round(float(np.mean(fold_auc["lightgbm_default"])), 4),
        "pr_auc_lightgbm_default": round(float(np.mean([average_precision_score(y[te], oof["lightgbm_default"][te])
                                                        for _, te in split])), 4),
        "fold_mean_auc": {n: round(float(np.mean(v)), 4) for n, v in fold_auc.items()},
        "inner_valid_auc": {n: round(float(np.mean(v)), 4) for n, v in inner_auc.items()},
        "fold_sd_auc_best": round(float(np.std(fold_auc[best])), 4),
        "probes": probe_auc,
        "rows": int(len(y)),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    })


if __name__ == "__main__":
    main()
