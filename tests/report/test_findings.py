"""The findings: labels from the tests (never from wording), the p each verdict reads, negative results."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from culturecart.culture.trust import SMALL_DESIGN_USERS
from culturecart.report.findings import (
    STRENGTHS,
    heterogeneity_table,
    markets_rq3_finding,
    rq1_finding,
    rq4_heterogeneity_finding,
    rq5_finding,
    strength,
    study_findings,
    write_findings,
)


def test_strength_reads_the_corrected_p_then_the_interval():
    assert strength(0.01, (0.02, 0.05), 0.005) == "clear"
    assert strength(0.07, (0.0, 0.05), 0.005) == "likely"
    assert strength(0.5, (-0.004, 0.004), 0.005) == "negligible"  # the interval rules out what matters
    assert strength(0.5, (-0.004, 0.02), 0.005) == "no evidence either way"
    assert strength(None, None, None) == "no evidence either way"
    assert strength(float("nan"), (-0.001, 0.001), 0.005) == "negligible"
    assert set(STRENGTHS) == {"clear", "likely", "negligible", "no evidence either way", "descriptive", "not tested"}


def _res(tables: dict, notes=(), kind="events"):
    return SimpleNamespace(tables=tables, notes=list(notes), kind=kind, truth=None)


HET = pd.DataFrame({"feature": ["price", "rating", "discount_rate"], "wald_chi2": [30.0, 9.0, 12.0],
                    "df": [7, 7, 7], "p_value": [0.0001, 0.25, 0.01]})
EFFECTS = pd.DataFrame({"country": ["DE", "FR", "DE", "FR", "DE", "FR"],
                        "feature": ["price", "price", "rating", "rating", "discount_rate", "discount_rate"],
                        "ame": [-0.02, -0.05, 0.01, 0.012, 0.004, 0.03],
                        "ame_ci_low": [-0.03, -0.06, 0.0, 0.0, -0.01, 0.02],
                        "ame_ci_high": [-0.01, -0.04, 0.02, 0.02, 0.02, 0.04]})


def _design(users: float) -> pd.DataFrame:
    return pd.DataFrame([{"rows": "clicked", "users_per_country": users}])


def test_a_large_design_reads_the_asymptotic_p_and_states_the_difference_in_percentage_points():
    res = _res({"rq4_heterogeneity": HET, "rq4_effects": EFFECTS, "rq4_design": _design(SMALL_DESIGN_USERS + 50)})
    het = heterogeneity_table(res).set_index("feature")
    assert (het["verdict_p"] == "asymptotic").all()
    assert het.loc["price", "verdict"] == "clear" and het.loc["rating", "verdict"] == "no evidence either way"
    # BH over the three features: 0.0001 * 3, 0.01 * 3 / 2
    assert het.loc["price", "p_used_adjusted"] == pytest.approx(0.0003)
    assert het.loc["discount_rate", "p_used_adjusted"] == pytest.approx(0.015)
    f = rq4_heterogeneity_finding(res)
    assert f.strength == "clear" and "percentage points" in f.statement and "price" in f.statement
    assert f.value == pytest.approx(3.0)  # FR -5 pp, DE -2 pp: a gap of 3 pp
    assert f.interval[0] < f.value < f.interval[1]


def test_a_small_design_reads_the_calibrated_p_or_states_no_verdict():
    cal = pd.DataFrame({"feature": ["price", "rating", "discount_rate"], "p_calibrated": [0.30, 0.01, 0.2],
                        "null_replicates": [99, 99, 99]})
    small = _design(SMALL_DESIGN_USERS / 4)
    calibrated = heterogeneity_table(_res({"rq4_heterogeneity": HET, "rq4_effects": EFFECTS, "rq4_design": small,
                                           "calibration_calibrated_p": cal})).set_index("feature")
    assert (calibrated["verdict_p"] == "calibrated").all()
    assert calibrated.loc["price", "verdict"] == "no evidence either way"  # asymptotic 1e-4, calibrated 0.30
    assert calibrated.loc["rating", "verdict"] == "clear"  # 0.01 * 3 = 0.03 after BH
    # No calibration on a small design: no verdict rests on the asymptotic test.
    res = _res({"rq4_heterogeneity": HET, "rq4_effects": EFFECTS, "rq4_design": small})
    bare = heterogeneity_table(res)
    assert (bare["verdict"] == "not tested").all()
    f = rq4_heterogeneity_finding(res)
    assert f.strength == "not tested" and "calibration" in f.statement
    # Too few null replicates to calibrate with: treated as no calibration.
    few = cal.assign(null_replicates=10)
    assert (heterogeneity_table(_res({"rq4_heterogeneity": HET, "rq4_design": small,
                                      "calibration_calibrated_p": few}))["verdict"] == "not tested").all()


def _rq1(lift: float, low: float, high: float, p_adj: float) -> pd.DataFrame:
    rows = [("behaviour", 1, "roc_auc", 0.80, 0.78, 0.82, np.nan, np.nan),
            ("offer+behaviour", 2, "roc_auc", 0.80 + lift, 0.78 + lift, 0.82 + lift, np.nan, np.nan),
            ("offer+behaviour", 2, "auc_lift_vs_best_unimodal", lift, low, high, p_adj / 2, p_adj)]
    return pd.DataFrame([{"model": "lightgbm", "modalities": m, "n_modalities": n, "metric": k, "value": v,
                          "ci_low": lo, "ci_high": hi, "p_value": p, "p_adjusted": pa}
                         for m, n, k, v, lo, hi, p, pa in rows])


def test_rq1_states_a_negative_result_as_a_finding():
    f = rq1_finding(_res({"rq1_table": _rq1(0.0002, -0.001, 0.001, 0.8)}))
    assert f.strength == "negligible"
    assert f.statement.startswith("Adding offer attributes did not improve on behaviour logs alone")
    assert "+0.0002 AUC [-0.0010, +0.0010]" in f.statement
    gain = rq1_finding(_res({"rq1_table": _rq1(0.03, 0.02, 0.04, 0.001)}))
    assert gain.strength == "clear" and gain.statement.startswith("Combining offer attributes and behaviour logs")
    worse = rq1_finding(_res({"rq1_table": _rq1(-0.03, -0.04, -0.02, 0.001)}))
    assert worse.strength == "clear" and "made predictions worse" in worse.statement
    unsure = rq1_finding(_res({"rq1_table": _rq1(0.01, -0.01, 0.03, 0.5)}))
    assert unsure.strength == "no evidence either way" and "cannot tell" in unsure.statement


def test_rq5_reads_the_paired_gain():
    gain = pd.DataFrame([{"target": "DE", "local_auc": 0.70, "pooled_auc": 0.75, "gain": 0.05, "ci_low": 0.03,
                          "ci_high": 0.07, "p_value": 0.001, "p_adjusted": 0.002, "zero_shot_auc": 0.68}])
    f = rq5_finding(_res({"rq5_gain": gain}))
    assert f.strength == "clear" and "raises AUC from 0.700 to 0.750: +0.050 [+0.030, +0.070]" in f.statement and "0.680" in f.statement


def test_markets_rq3_finding_reads_its_wilcoxon_tests():
    t = pd.DataFrame([{"market": m, "scope": "global", "metric": "ndcg@10 vs local", "value": v, "ci_low": v - 0.01,
                       "ci_high": v + 0.01, "p_value": p, "p_adjusted": p} for m, v, p in
                      (("de", 0.04, 0.001), ("fr", 0.002, 0.6))])
    f = markets_rq3_finding(_res({"rq3_table": t}, kind="markets"))
    assert f.strength == "clear" and "1 of 2 markets" in f.statement and f.unit == "nDCG@10"


def test_findings_files_hold_every_field_and_no_nan(tmp_path):
    res = _res({"rq1_table": _rq1(0.0002, -0.001, 0.001, 0.8), "rq4_heterogeneity": HET, "rq4_effects": EFFECTS,
                "rq4_design": _design(SMALL_DESIGN_USERS * 2)})
    found = study_findings(res)
    assert [f.question for f in found] == ["RQ1", "RQ4"]
    write_findings(found, tmp_path)
    data = json.loads((tmp_path / "findings.json").read_text("utf-8"))
    assert {"question", "statement", "strength", "value", "interval", "test", "p", "p_calibrated", "p_adjusted",
            "checked"} <= set(data[0])
    md = (tmp_path / "findings.md").read_text("utf-8")
    assert "(negligible)" in md and "(clear)" in md and "no evidence either way" in md  # the scale is spelled out
