"""Numbers as the report prints them: rounded to their interval, p never 0, no inf/nan/repr, long tables folded."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from culturecart.report.format import MISSING, decimals, fmt_interval, fmt_p, fmt_signed, fmt_value, table


def test_p_values_never_print_as_zero():
    assert fmt_p(0.0) == "< 1e-16"
    assert fmt_p(2.6e-19) == "< 1e-16"
    assert fmt_p(3.2e-5) == "3.2e-05"
    assert fmt_p(0.0123) == "0.012"
    assert fmt_p(0.61) == "0.61"
    assert fmt_p(float("nan")) == MISSING and fmt_p(None) == MISSING


def test_numbers_carry_the_precision_their_interval_supports():
    assert decimals((0.79, 0.83)) == 3  # width 0.04: two significant digits
    assert decimals((0.5, 1.5)) == 1
    assert fmt_value(0.80817, (0.7921, 0.8246)) == "0.808"
    assert fmt_signed(0.0002, (-0.001, 0.001)) == "+0.0002"
    assert fmt_interval((-0.033, 0.026), -0.008) == "[-0.033, +0.026]"
    assert fmt_interval((0.03, 0.07), 0.05, signed=True) == "[+0.030, +0.070]"
    assert fmt_interval((0.2, float("inf"))) == ""
    assert fmt_value(float("inf")) == MISSING and fmt_signed(np.nan) == MISSING


def test_tables_have_no_inf_nan_or_python_notation_and_name_their_csv():
    frame = pd.DataFrame({"target": ["DE", "FR"], "rows needed": [np.inf, 1200.0], "p_value": [0.0, np.nan],
                          "options": [{"epochs": 3}, None], "flag": [True, False]})
    html = table(frame, csv="rq5_data_equivalent.csv")
    assert "inf" not in html.replace("beyond the data", "") and "nan" not in html.lower()
    cells = " ".join(re.findall(r"<td>(.*?)</td>", html))
    assert "{" not in cells and "'" not in cells and "None" not in cells
    assert "beyond the data" in html and "&lt; 1e-16" in html and "epochs: 3" in html and "yes" in html
    assert "rq5_data_equivalent.csv" in html


def test_long_tables_fold_below_their_top_rows():
    frame = pd.DataFrame({"country": [f"C{i}" for i in range(40)], "value": np.linspace(0, 1, 40)})
    html = table(frame, csv="rq3_table.csv")
    shown, folded = html.split("<details>")
    assert shown.count("<tr>") == 8  # the top rows (the header row is styled)
    assert "Show all 40 rows" in folded and "rq3_table.csv" in folded
    assert "<details>" not in table(frame.head(10))  # a handful more rows are not worth a fold
