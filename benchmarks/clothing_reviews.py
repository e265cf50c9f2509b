"""Women's E-Commerce Clothing Reviews: text-only vs tabular-only vs fusion (label = Recommended IND).

The star Rating is never a feature (the adapter drops it: alone it scores AUC 0.97). Features:
title + review text (USE-m3, full 512-d; the raw text for the TF-IDF ``ngram_logistic`` model), age,
positive-feedback count, division / department / class. One stratified 80/20 split (seed 0) with a 10%
inner validation split from the training part; candidates of each kind are chosen on validation AUC, then scored on the test part. The
fusion's lift over the text-only model gets a paired bootstrap CI. Then the same selection runs in
stratified 5-fold CV (``cv`` figures: mean AUCs, the mean lift with a t-interval over folds, and a
paired bootstrap CI of the lift on the pooled out-of-fold predictions). A TF-IDF (1-2 grams) + logistic
regression text model runs in the same script as the reference figure (0.949 measured before), and the
same with the tabular features appended (early) or stacked on the text score; ``reference_cv`` repeats those
three in the same CV folds with paired bootstrap CIs of the lifts on 23k pooled rows;
``lift_bound_if_independent`` is the most any fusion could add if the tabular block's information were
independent of the text's (equal-variance binormal model).
The pytorch-widedeep peer needs torchvision and its own environment: see
benchmarks/peers/widedeep_clothing.py (not part of this run; ``auc_widedeep`` is null here).
Usage: python benchmarks/clothing_reviews.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from _measure import emit, peak_rss_mb
from scipy import stats
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from culturecart.data.adapters import convert
from culturecart.encoders import EncoderConfig, EncodersConfig
from culturecart.encoders.dataset import encode_dataset
from culturecart.evaluate.bootstrap import paired_bootstrap_delta
from culturecart.models import build_features, create_model
from culturecart.paths import dataset_path

TEXT = [("logistic", {"C": 0.5}), ("text_only", {}), ("ngram_logistic", {})]
TABULAR = [("lightgbm", {"learning_rate": 0.02}), ("logistic", {})]
FUSION = [("logistic", {"C": 0.5}), ("mlp", {}), ("lightgbm", {"learning_rate": 0.02}), ("late_fusion", {}),
          ("late_fusion", {"bases": {"text": {"model": "logistic", "C": 0.5}}}),
          ("late_fusion", {"bases": {"text": {"model": "mlp"}}}),
          ("ngram_logistic", {"modalities": None}),  # sparse n-grams with every tabular block appended
          ("late_fusion", {"bases": {"text": {"model": "ngram_logistic"}}})]


def independent_lift_bound(auc_text: float, auc_tabular: float) -> float:
    """The AUC gain of optimally combining two scores whose information is independent (binormal model).

    Under the equal-variance binormal model AUC = Phi(d / sqrt(2)); independent evidence adds in d^2, so
    this is the most a fusion can add when the tabular block shares nothing with the text. Real blocks
    overlap with the text, so the attainable lift is smaller.
    """
    d_text, d_tab = (np.sqrt(2) * stats.norm.ppf(a) for a in (auc_text, auc_tabular))
    return float(stats.norm.cdf(np.hypot(d_text, d_tab) / np.sqrt(2)) - auc_text)


def tabular_matrix(ds) -> sp.csr_matrix:
    """Division / department / class one-hot and log1p age and feedback count, one row per review event."""
    events = ds.events.reset_index(drop=True)
    items = ds.items.set_index("item_id").reindex(events["item_id"].astype(str)).reset_index(drop=True)
    users = ds.users.set_index("user_id").reindex(events["user_id"].astype(str)).reset_index(drop=True)
    cats = OneHotEncoder(handle_unknown="ignore").fit_transform(
        items[["division", "department", "category"]].fillna("missing").astype(str))
    nums = np.log1p(np.column_stack([users["age"].to_numpy(float), events["bhv_positive_feedback"].to_numpy(float)]))
    nums = np.where(np.isnan(nums), np.nanmedian(nums, axis=0), nums)
    return sp.hstack([cats, sp.csr_matrix(nums)]).tocsr()


def tfidf_references(texts: np.ndarray, tab_x: sp.csr_matrix, y: np.ndarray, train_idx: np.ndarray,
                     test_idx: np.ndarray) -> dict[str, np.ndarray]:
    """Test-row scores of the issue's reference text model and of two ways to add the tabular block to it.

    ``text``: TF-IDF (1-2 grams) + logistic regression. ``early``: the same logistic regression with the
    tabular features appended (one-hot classes, scaled log1p numbers). ``stacked``: a logistic regression on
    the text model's inner out-of-fold score plus the tabular features (the text score a stacker trains on
    is never in-sample).
    """
    tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train, x_test = tfidf.fit_transform(texts[train_idx]), tfidf.transform(texts[test_idx])
    text_lr = LogisticRegression(C=4.0, max_iter=2000)
    out = {"text": text_lr.fit(x_train, y[train_idx]).decision_function(x_test)}
    scaler = StandardScaler(with_mean=False).fit(tab_x[train_idx])
    early = LogisticRegression(C=4.0, max_iter=3000).fit(
        sp.hstack([x_train, scaler.transform(tab_x[train_idx])]).tocsr(), y[train_idx])
    out["early"] = early.decision_function(sp.hstack([x_test, scaler.transform(tab_x[test_idx])]).tocsr())
    inner = cross_val_predict(LogisticRegression(C=4.0, max_iter=2000), x_train, y[train_idx], cv=5,
                              method="decision_function")
    z_train = sp.hstack([sp.csr_matrix(inner[:, None]), tab_x[train_idx]]).tocsr()
    z_test = sp.hstack([sp.csr_matrix(out["text"][:, None]), tab_x[test_idx]]).tocsr()
    z_scaler = StandardScaler(with_mean=False).fit(z_train)
    stacker = LogisticRegression(C=1.0, max_iter=3000).fit(z_scaler.transform(z_train), y[train_idx])
    out["stacked"] = stacker.decision_function(z_scaler.transform(z_test))
    return out


def reference_cv(texts: np.ndarray, tab_x: sp.csr_matrix, y: np.ndarray, folds: int, seed: int,
                 n_boot: int) -> dict[str, object]:
    """The TF-IDF references in stratified CV: pooled out-of-fold AUCs and paired bootstrap CIs of the lifts.

    23k pooled rows resolve AUC differences of a few 1e-4, which one 20% test split cannot: this is where
    the question "does the tabular block add anything to strong text?" gets its sharpest answer.
    """
    oof = {k: np.zeros(len(y)) for k in ("text", "early", "stacked")}
    for train_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y):
        for k, score in tfidf_references(texts, tab_x, y, train_idx, test_idx).items():
            oof[k][test_idx] = score
    out: dict[str, object] = {"folds": folds, **{f"auc_tfidf_{k}": round(roc_auc_score(y, v), 4)
                                                 for k, v in oof.items()}}
    for k in ("early", "stacked"):
        lift, p_value = paired_bootstrap_delta("roc_auc", y, oof[k], oof["text"], n_boot=n_boot, seed=seed)
        out[f"lift_{k}_over_text"] = round(lift.estimate, 5)
        out[f"lift_{k}_ci"] = [round(lift.low, 5), round(lift.high, 5)]
        out[f"lift_{k}_p_value"] = round(p_value, 4)
    return out


def pick(candidates, fit, valid, test):
    best = None
    for name, options in candidates:
        model = create_model(name, **options).fit(fit, valid)
        score = roc_auc_score(valid.y, model.predict_proba(valid))
        label = f"{name} {options}" if options else name
        print(f"  {label} {sorted(fit.modalities)}: valid AUC {score:.4f}")
        if best is None or score > best[0]:
            best = (score, label, model.predict_proba(test))
    return best


def select(data, fit_idx, valid_idx, test_idx) -> dict[str, tuple]:
    """The validation-chosen text-only, tabular-only and fusion models' test predictions."""
    fit, valid, test = data.rows(fit_idx), data.rows(valid_idx), data.rows(test_idx)
    tabular = [m for m in data.modalities if m != "text"]
    print("text-only:")
    text = pick(TEXT, fit.select(["text"]), valid.select(["text"]), test.select(["text"]))
    print("tabular-only:")
    tab = pick(TABULAR, fit.select(tabular), valid.select(tabular), test.select(tabular))
    print("fusion:")
    return {"text": text, "tabular": tab, "fusion": pick(FUSION, fit, valid, test)}


def cross_validate(data, folds: int, seed: int, n_boot: int) -> dict[str, object]:
    y = data.y
    aucs: dict[str, list[float]] = {"text": [], "tabular": [], "fusion": []}
    oof = {k: np.zeros(len(y)) for k in aucs}
    for f, (train_idx, test_idx) in enumerate(StratifiedKFold(folds, shuffle=True, random_state=seed).split(y, y)):
        print(f"CV fold {f + 1}/{folds}")
        fit_idx, valid_idx = train_test_split(train_idx, test_size=0.1, stratify=y[train_idx], random_state=seed)
        for kind, (_, _, pred) in select(data, fit_idx, valid_idx, test_idx).items():
            aucs[kind].append(roc_auc_score(y[test_idx], pred))
            oof[kind][test_idx] = pred
    lifts = np.subtract(aucs["fusion"], aucs["text"])
    half = stats.t.ppf(0.975, folds - 1) * lifts.std(ddof=1) / np.sqrt(folds)
    pooled, _ = paired_bootstrap_delta("roc_auc", y, oof["fusion"], oof["text"], n_boot=n_boot, seed=seed)
    return {"folds": folds, **{f"auc_{k}": round(float(np.mean(v)), 4) for k, v in aucs.items()},
            "fold_lifts": [round(float(v), 4) for v in lifts],
            "fusion_lift_mean": round(float(lifts.mean()), 4),
            "fusion_lift_t_ci": [round(float(lifts.mean() - half), 4), round(float(lifts.mean() + half), 4)],
            "fusion_lift_pooled_ci": [round(pooled.low, 4), round(pooled.high, 4)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--folds", type=int, default=5, help="CV folds (0: the single split only)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    ds = convert("clothing-reviews", dataset_path("womens_clothing_reviews"))
    cache = Path(tempfile.mkdtemp(prefix="cc-clothing-"))
    emb = encode_dataset(ds, EncodersConfig(text=EncoderConfig(name="use-m3"), cache_dir=str(cache)), progress=False)
    data = build_features(ds, emb, embedding_dim=None, keep_text=True)
    y = data.y
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=args.seed)
    fit_idx, valid_idx = train_test_split(train_idx, test_size=0.1, stratify=y[train_idx], random_state=args.seed)
    test = data.rows(test_idx)
    chosen = select(data, fit_idx, valid_idx, test_idx)
    text, tab, fusion = chosen["text"], chosen["tabular"], chosen["fusion"]
    lift, p_value = paired_bootstrap_delta("roc_auc", test.y, fusion[2], text[2], n_boot=args.n_boot, seed=args.seed)
    cv = cross_validate(data, args.folds, args.seed, args.n_boot) if args.folds > 1 else None

    texts = data.meta["text"].to_numpy()  # title + review of each event, "" where the review is empty
    tab_x = tabular_matrix(ds)
    ref = tfidf_references(texts, tab_x, y, train_idx, test_idx)
    auc_tfidf, auc_tfidf_tab, auc_tfidf_stacked = (roc_auc_score(y[test_idx], ref[k])
                                                   for k in ("text", "early", "stacked"))
    ref_cv = reference_cv(texts, tab_x, y, args.folds, args.seed, args.n_boot) if args.folds > 1 else None
    figures = {
        "auc_text": round(roc_auc_score(test.y, text[2]), 4), "text_model": text[1],
        "auc_tabular": round(roc_auc_score(test.y, tab[2]), 4), "tabular_model": tab[1],
        "auc_fusion": round(roc_auc_score(test.y, fusion[2]), 4), "fusion_model": fusion[1],
        "fusion_lift_over_text": round(lift.estimate, 4), "fusion_lift_ci_low": round(lift.low, 4),
        "fusion_lift_ci_high": round(lift.high, 4), "fusion_lift_p_value": round(p_value, 4),
        "auc_tfidf_logistic_reference": round(auc_tfidf, 4),
        "auc_tfidf_tabular_logistic_reference": round(auc_tfidf_tab, 4),
        "auc_tfidf_tabular_stacked_reference": round(auc_tfidf_stacked, 4),
        "lift_bound_if_independent": round(independent_lift_bound(roc_auc_score(test.y, text[2]),
                                                                  roc_auc_score(test.y, tab[2])), 4),
        "lift_bound_if_independent_tfidf": round(independent_lift_bound(auc_tfidf, roc_auc_score(test.y, tab[2])), 4),
        "auc_widedeep": None,
        "cv": cv,
        "reference_cv": ref_cv,
        "test_rows": int(len(test_idx)),
        "seconds": round(time.perf_counter() - t0, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    for k, v in figures.items():
        print(f"{k:>30}: {v}")
    emit(figures)


if __name__ == "__main__":
    main()
