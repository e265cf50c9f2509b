"""``calibration: auto`` (the default): a small design is calibrated before RQ4 states a verdict, a large one reads
the asymptotic tests, and the findings say which and why."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from culturecart.culture.trust import SMALL_DESIGN_USERS, auto_null_replicates
from culturecart.study.config import load_config
from culturecart.study.run import run_study

ONLY_RQ4 = ["rq1.enabled=false", "rq3.enabled=false", "rq5.enabled=false", "matching.enabled=false",
            "rq4.n_boot=10", "data.simulate.countries=[KR,US,DE]", "data.simulate.n_products=60"]


def _study(tmp_path, users_per_country: int, *extra: str):
    cfg = load_config(preset="twin-small", overrides=[*ONLY_RQ4, f"data.simulate.n_users={3 * users_per_country}",
                                                      *extra])
    assert cfg.calibration.auto or extra
    return run_study(cfg, tmp_path / "run", quiet=True)


def test_calibration_settings_take_a_shorthand_and_default_to_auto():
    assert load_config(preset="twin").calibration.auto
    assert load_config(preset="twin", overrides=["calibration=0"]).calibration.replicates == 0
    assert load_config(preset="twin", overrides=["calibration=40"]).calibration.per_scale == 8
    auto = load_config(preset="twin", overrides=["calibration=auto"]).calibration
    assert auto.auto and auto.per_scale == 0  # auto calibrates the verdicts; power needs `culturecart calibrate`
    assert auto_null_replicates(8) == 160 and auto_null_replicates(1) == 99


@pytest.mark.slow
def test_a_small_design_is_calibrated_before_rq4_states_a_verdict(tmp_path):
    res = _study(tmp_path, SMALL_DESIGN_USERS // 3)
    decision = res.tables["calibration_decision"].iloc[0]
    assert decision["mode"] == "calibrated" and decision["users_per_country"] < SMALL_DESIGN_USERS
    n_features = len(res.tables["rq4_heterogeneity"])
    assert decision["replicates"] == auto_null_replicates(n_features)
    assert res.tables["calibration_settings"].iloc[0]["planted_replicates"] == 0
    # The smallest calibrated p can pass Benjamini-Hochberg over the features: calibration keeps its power.
    assert 1 / (1 + decision["replicates"]) * n_features < 0.05
    findings = json.loads((tmp_path / "run" / "findings.json").read_text("utf-8"))
    rq4 = next(f for f in findings if f["question"] == "RQ4")
    assert "calibrated on" in rq4["checked"] and "minutes of compute" in rq4["checked"]
    assert rq4["p_calibrated"] is not None and rq4["strength"] != "not tested"
    report = (tmp_path / "run" / "report.html").read_text("utf-8")
    assert "calibrated on" in report and "threshold" in report


@pytest.mark.slow
def test_a_large_design_reads_the_asymptotic_tests_and_says_why(tmp_path):
    res = _study(tmp_path, SMALL_DESIGN_USERS + 30)
    decision = res.tables["calibration_decision"].iloc[0]
    assert decision["mode"] == "asymptotic" and decision["replicates"] == 0
    assert decision["users_per_country"] >= SMALL_DESIGN_USERS
    assert "calibration_settings" not in res.tables  # no replicate ran
    results = pd.read_parquet(tmp_path / "run" / "results.parquet")
    assert not (results["question"] == "calibration").any()
    rq4 = next(f for f in json.loads((tmp_path / "run" / "findings.json").read_text("utf-8"))
               if f["question"] == "RQ4")
    assert "asymptotic tests: a large design" in rq4["checked"] and rq4["p_calibrated"] is None


@pytest.mark.slow
def test_a_small_design_with_calibration_off_states_no_rq4_verdict(tmp_path):
    res = _study(tmp_path, SMALL_DESIGN_USERS // 3, "calibration=0")
    assert "calibration_decision" not in res.tables
    rq4 = next(f for f in json.loads((tmp_path / "run" / "findings.json").read_text("utf-8"))
               if f["question"] == "RQ4" and "react differently" in f["statement"])
    assert rq4["strength"] == "not tested" and "calibration: auto" in rq4["statement"]
