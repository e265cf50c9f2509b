"""Shopee product matching on train_dev.csv.gz: the F1 ladder by 5-fold GroupKFold, then predict time and memory.

Ladder (culturecart.matching.ladder): tfidf-only, pretrained-text-only (USE-m3), phash-only, comb
(normalised text + weighted phash bits concatenated), + min2, + union with tfidf and phash matches, + Iterative
Neighbourhood Blending (2 stages), + ArcFace heads over [USE-m3, title n-gram TF-IDF] (trained on the 4 training folds),
+ pair model (LightGBM on candidate-pair features instead of the thresholded union). Each step's
thresholds are tuned by inner GroupKFold on the training folds only; the outer fold is scored once.
The data has no images (30 sample files only), so the image side is the phash throughout.
Baseline in the same run: a plain character TF-IDF + phash union with one tuned threshold each
(``baseline_tfidf_phash``). Then ``culturecart match``'s model is fitted on the whole file and
``predict`` is timed on all 27k rows (training excluded; empty embedding cache, so the titles are
encoded inside the timing), with peak memory.
Needs the shared data. Usage: python benchmarks/shopee_matching.py [--folds 5] [--limit N]
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np
from _measure import emit, peak_rss_mb
from sklearn.model_selection import GroupKFold

from culturecart.data.adapters.shopee import read_shopee
from culturecart.matching.config import MatchingConfig, Steps
from culturecart.matching.f1 import mean_f1, true_matches
from culturecart.matching.ladder import matching_ladder
from culturecart.matching.model import MatchingModel
from culturecart.matching.tuning import score_f1, tune_thresholds
from culturecart.matching.views import compute_views
from culturecart.paths import data_root

BASELINE = Steps(components=("tfidf", "phash"), min2=False, union=True, inb_stages=0, arcface=False, pair_model=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--inner-folds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None, help="first N rows only (smoke runs)")
    parser.add_argument("--no-ladder", action="store_true",
                        help="skip the CV ladder and the baseline: fit on the whole file, time predict")
    args = parser.parse_args()
    path = data_root() / "shopee_pmg" / "train_dev.csv.gz"
    t0 = time.perf_counter()
    frame = read_shopee(path, args.limit)
    source = path
    if args.limit:
        source = f"/tmp/shopee_first_{args.limit}.csv"
        frame.to_csv(source, index=False)
    ladder = [] if args.no_ladder else matching_ladder(str(source), folds=args.folds,
                                                        inner_folds=args.inner_folds, progress=print)
    ladder_seconds = time.perf_counter() - t0

    # baseline: TF-IDF + phash, one threshold each, same outer folds
    labels = frame["label_group"].to_numpy()
    base = []
    config = MatchingConfig(inner_folds=args.inner_folds)
    for f, (tr, te) in enumerate(GroupKFold(n_splits=args.folds).split(frame, groups=labels) if ladder else []):
        train, test = frame.iloc[tr].reset_index(drop=True), frame.iloc[te].reset_index(drop=True)
        inner, _ = MatchingModel(config.model_copy(update={"steps": BASELINE, "seed": f})).inner_views(train)
        th = tune_thresholds(inner, BASELINE)
        base.append(score_f1(compute_views(test, config), th, BASELINE, np.unique(labels[te], return_inverse=True)[1]))

    t_fit = time.perf_counter()
    model = MatchingModel(config).fit(frame)
    fit_seconds = time.perf_counter() - t_fit
    rss_before = peak_rss_mb()
    os.environ["CULTURECART_CACHE"] = tempfile.mkdtemp(prefix="cc-shopee-cold-")  # predict encodes from scratch
    t_pred = time.perf_counter()
    sub = model.predict(frame.drop(columns=["label_group"]))
    predict_seconds = time.perf_counter() - t_pred
    f1_in_sample = mean_f1(dict(zip(sub["posting_id"], sub["matches"].str.split(), strict=True)),
                           true_matches(frame["posting_id"], frame["label_group"]))
    for row in ladder:
        print(f"{row['model']:>16}  F1 {row['value']:.4f}  (95% CI {row['ci_low']:.4f}-{row['ci_high']:.4f})  "
              f"folds {row['folds']}  thresholds {row['thresholds']}")
    emit({
        "f1_ladder": {r["model"]: round(r["value"], 4) for r in ladder},
        "f1_ladder_ci": {r["model"]: [round(r["ci_low"], 4), round(r["ci_high"], 4)] for r in ladder},
        "f1_final": round(ladder[-1]["value"], 4) if ladder else None,
        "baseline_tfidf_phash": round(float(np.mean(base)), 4) if base else None,
        "predict_seconds": round(predict_seconds, 1), "predict_rows": len(frame),
        "fit_seconds": round(fit_seconds, 1), "ladder_seconds": round(ladder_seconds, 1),
        "f1_fit_rows_in_sample": round(f1_in_sample, 4),
        "peak_rss_mb": round(peak_rss_mb(), 1), "peak_rss_mb_before_predict": round(rss_before, 1),
        "maxrss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
        "folds": args.folds, "rows": len(frame),
    })


if __name__ == "__main__":
    main()
