"""No broken numbers, by construction: checked on the shared small study's results and report."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

UNIT_INTERVAL = {"roc_auc", "pr_auc", "ndcg@10", "mrr", "brier", "ece", "mean_f1", "treeshap_share",
                 "false_positive_rate", "power"}
CORRELATIONS = {"spearman_rho_hofstede", "within_feature_spearman_vs_planted", "within_feature_spearman"}
NUMBER_AND_INTERVAL = re.compile(r"([+-]?\d+\.(\d+))(?: AUC| nDCG@10| pp)? \[([+-]?\d+\.(\d+)), ([+-]?\d+\.(\d+))\]")


def _visible_text(html: str) -> str:
    html = re.sub(r"src='data:image/png;base64,[^']*'", "", html)
    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_every_interval_holds_its_estimate_and_bounded_figures_stay_in_bounds(small_study):
    results = pd.read_parquet(small_study.out / "results.parquet")
    values = results[["value", "ci_low", "ci_high"]].astype(float)
    assert not np.isinf(values.to_numpy()).any()
    both = values.dropna()
    outside = results.loc[both.index][~((both["ci_low"] <= both["value"] + 1e-12)
                                        & (both["value"] <= both["ci_high"] + 1e-12))]
    assert outside.empty, outside[["question", "metric", "value", "ci_low", "ci_high"]].to_string()
    for metrics, (low, high) in ((UNIT_INTERVAL, (0.0, 1.0)), (CORRELATIONS, (-1.0, 1.0))):
        part = values[results["metric"].isin(metrics)]
        assert len(part) or metrics is CORRELATIONS
        assert ((part.min(axis=1) >= low) & (part.max(axis=1) <= high)).all(), part.describe()
    p = results[["p_value", "p_adjusted"]].astype(float).to_numpy().ravel()
    p = p[~np.isnan(p)]
    assert len(p) and ((p >= 0) & (p <= 1)).all()


def test_the_report_shows_no_inf_nan_repr_or_zero_p_and_rounds_to_the_interval(small_study):
    html = (small_study.out / "report.html").read_text("utf-8")
    text = _visible_text(html)
    assert not re.search(r"\b(inf|nan|NaN|None)\b", text), re.search(r".{40}\b(inf|nan|NaN|None)\b.{40}", text)
    assert "{'" not in text and "{&#x27;" not in text
    assert not re.search(r"\bp (=|is) 0\b|p-value 0\b", text)
    for cell in re.findall(r"<td>(.*?)</td>", html):
        assert cell not in ("inf", "-inf", "nan", "0.0e+00") and "{" not in cell
    findings = json.loads((small_study.out / "findings.json").read_text("utf-8"))
    assert 1 <= len(findings) <= 6
    for f in findings:
        for number, dec, _, dec_low, _, dec_high in NUMBER_AND_INTERVAL.findall(f["statement"]):
            assert len(dec) == len(dec_low) == len(dec_high), (number, f["statement"])
        if f["interval"] is not None and f["value"] is not None:
            assert f["interval"][0] <= f["value"] <= f["interval"][1], f
