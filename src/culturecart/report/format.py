"""How the report writes numbers, tables and answers (HTML, every value escaped)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd


def fmt(v: float, digits: int = 4) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def table(frame: pd.DataFrame, max_rows: int = 40) -> str:
    if frame is None or frame.empty:
        return "<p class='muted'>(empty)</p>"
    shown = frame.head(max_rows)
    more = f"<p class='muted'>{len(frame) - max_rows} more rows in the CSV.</p>" if len(frame) > max_rows else ""
    return shown.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="", border=0) + more


def img(uri: str, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='{uri}'>"




def answer(text: str) -> str:
    return f"<div class='answer'>{html.escape(text)}</div>"


def false_positive_rate(res, family: str) -> str:
    """The calibration's false-positive rate of a test family with its interval, as words ("" without one)."""
    fpr = res.tables.get("calibration_fpr")
    if fpr is None or family not in set(fpr["family"]):
        return ""
    r = fpr.set_index("family").loc[family]
    return f"false-positive rate {fmt(r['fpr'], 3)} (95% CI {fmt(r['ci_low'], 3)}-{fmt(r['ci_high'], 3)})"
