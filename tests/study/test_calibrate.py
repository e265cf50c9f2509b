"""``culturecart calibrate``: replicates through the unit store, tables, the report section, bad input."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from culturecart.cli import app
from culturecart.study.config import load_config
from culturecart.study.run import run_study

runner = CliRunner()
ONLY_CULTURE = ["rq1.enabled=false", "rq5.enabled=false", "matching.enabled=false", "rq3.n_boot=10"]


def _args(out, replicates=3, planted=1):
    args = ["calibrate", "--preset", "twin-small", "--replicates", str(replicates), "--planted", str(planted),
            "--out", str(out), "--quiet"]
    for o in ONLY_CULTURE:
        args += ["--set", o]
    return args


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    out = tmp_path_factory.mktemp("calibrate") / "run"
    result = runner.invoke(app, _args(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.slow
def test_calibrate_writes_rates_power_and_the_report_section(calibrated):
    fpr = pd.read_csv(calibrated / "calibration_fpr.csv").set_index("family")
    assert set(fpr.index) == {"heterogeneity", "hofstede", "literature", "rq3"}
    assert (fpr["replicates"] == 3).all() and (fpr["ci_low"] <= fpr["fpr"]).all() and (fpr["fpr"] <= fpr["ci_high"]).all()
    assert fpr.loc["literature", "nominal"] == 0.1 and fpr.loc["heterogeneity", "nominal"] == 0.05
    power = pd.read_csv(calibrated / "calibration_power.csv")
    assert sorted(power["scale"].unique()) == [0.5, 1.0, 2.0]
    det = pd.read_csv(calibrated / "calibration_detectable.csv")
    assert (det["mde_80"] > 0).all() and (det["users_per_country_80"] > 0).all()
    results = pd.read_parquet(calibrated / "results.parquet")
    cal = results[results["question"] == "calibration"]
    assert {"false_positive_rate", "power", "mde_80_logodds_per_sd", "within_feature_spearman"} <= set(cal["metric"])
    html = (calibrated / "report.html").read_text("utf-8")
    assert "<section id='trust'>" in html and "How far to trust these answers" in html
    assert "Minimum detectable cross-country SD of a slope at 80% power" in html
    # 3 replicates cannot calibrate a p-value that passes the correction: the finding says so, not "turned off".
    assert "calibration ran only 3 simulations" in html and "calibration was turned off" not in html
    # On the simulation the study's own RQ4 estimate is scored against the planted truth, per feature.
    recovery = pd.read_csv(calibrated / "rq4_recovery.csv")
    assert recovery["feature"].iloc[-1] == "mean over features" and recovery["ci_low"].notna().all()


@pytest.mark.slow
def test_calibrate_resumes_and_adds_replicates_to_the_stored_ones(calibrated):
    before = pd.read_csv(calibrated / "calibration_fpr.csv")
    overrides = ONLY_CULTURE + ["calibration.replicates=3", "calibration.planted_replicates=1"]
    again = run_study(load_config(preset="twin-small", overrides=overrides), calibrated, quiet=True)
    assert again.units_computed == 0
    pd.testing.assert_frame_equal(pd.read_csv(calibrated / "calibration_fpr.csv"), before)
    overrides[-2] = "calibration.replicates=4"
    more = run_study(load_config(preset="twin-small", overrides=overrides), calibrated, quiet=True)
    assert more.units_computed == 1  # the fourth null replicate only
    assert (more.tables["calibration_fpr"]["replicates"] == 4).all()


def test_calibrate_refuses_bad_settings_with_usage_errors(tmp_path):
    for args, words in ((["calibrate", "--preset", "twin-small", "--replicates", "0"], "replicates"),
                        (["calibrate", "--preset", "twin-small", "--set", "calibration.scales=[0]"], "scales"),
                        (["calibrate", "--set", "data.markets=" + str(tmp_path)], "events dataset"),
                        (["calibrate"], "study YAML")):
        result = runner.invoke(app, [*args, "--out", str(tmp_path / "out")])
        assert result.exit_code == 2, (args, result.output)
        assert words in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_unknown_rq4_features_are_a_config_error_naming_the_available_ones(tmp_path):
    result = runner.invoke(app, [*_args(tmp_path / "out", replicates=2), "--set", "rq4.features=[price,bogus]"])
    assert result.exit_code == 2, result.output
    assert "['bogus'] not available" in result.output and "discount_rate" in result.output


def test_a_design_that_cannot_be_built_is_a_reported_result_not_a_crash():
    from culturecart.data import Dataset
    from culturecart.study.calibrate import _design_unit

    events = pd.DataFrame({"user_id": ["u"], "session_id": ["s"], "item_id": ["i"], "purchased": [1]})
    out = _design_unit(Dataset(events=events), {}, "all", None, 0)
    assert out == {"error": "RQ4 needs an items table with offer attributes"}
