from culturecart.report.page import SECTIONS


def test_report_is_self_contained_and_answers_each_question(small_study):
    html = (small_study.out / "report.html").read_text("utf-8")
    for section in SECTIONS:
        assert f"id='{section}'" in html
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert html.count("data:image/png;base64,") >= 6
    for question in ("RQ1.", "RQ2.", "RQ3.", "RQ4.", "RQ5."):
        assert question in html
    assert "Minkov" in html
    assert "id='matching'" in html and "mean F1" in html  # the UAI caveat is always shown


def _res(n_null: int, fpr: float, ci_low: float):
    from types import SimpleNamespace

    import pandas as pd

    tables = {
        "calibration_fpr": pd.DataFrame([{"family": "heterogeneity", "nominal": 0.05, "fpr": fpr, "ci_low": ci_low,
                                          "ci_high": fpr + 0.1}]),
        "calibration_calibrated_p": pd.DataFrame({"feature": ["price", "rating"], "p_calibrated": [0.30, 0.01],
                                                  "null_replicates": [n_null, n_null]}),
        "calibration_detectable": pd.DataFrame({"feature": ["price", "rating"], "mde_80": [0.21, 0.1]}),
    }
    return SimpleNamespace(tables=tables)


def test_heterogeneity_verdicts_read_the_calibrated_p_with_enough_null_replicates():
    import pandas as pd

    from culturecart.report.sections.rq4 import _heterogeneity_verdicts

    het = pd.DataFrame({"feature": ["price", "rating"], "wald_chi2": [30.0, 9.0], "df": [7, 7],
                        "p_value": [0.0001, 0.25]})
    calibrated = _heterogeneity_verdicts(het, _res(100, 0.6, 0.5)).set_index("feature")
    assert calibrated.loc["price", "verdict"] == "inconclusive (MDE 0.21 log-odds per SD)"
    assert calibrated.loc["rating", "verdict"] == "differs"
    assert (calibrated["verdict_p"] == "calibrated").all()
    # Too few null replicates for a calibrated p: the asymptotic verdict stands, flagged as over-rejecting.
    few = _heterogeneity_verdicts(het, _res(10, 0.6, 0.4)).set_index("feature")
    assert few.loc["price", "verdict"].startswith("differs (asymptotic p; on this data it rejects a true null 60%")
    # A well-calibrated asymptotic test is not flagged.
    fine = _heterogeneity_verdicts(het, _res(10, 0.05, 0.03)).set_index("feature")
    assert fine.loc["price", "verdict"] == "differs"
