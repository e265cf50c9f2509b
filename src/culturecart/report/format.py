"""How the report writes numbers, tables and answers (HTML, every value escaped).

Numbers are rounded to what their interval supports (two significant digits of the interval's width), p-values
never print as 0 (``< 1e-16``), and no table cell or sentence shows ``inf``, ``nan`` or Python notation: a value
that is not there is a dash, an unreachable one is said in words by the section that knows why.

Example:
    >>> fmt_value(0.80817, (0.7921, 0.8246)), fmt_interval((0.7921, 0.8246)), fmt_p(0.0)
    ('0.808', '[0.792, 0.825]', '< 1e-16')
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

MISSING = "–"
TOP_ROWS = 8  # rows of a long table shown above its "show all" fold


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def decimals(interval: tuple[float, float] | None, default: int = 3) -> int:
    """Decimals that show an interval's width to two significant digits (1 to 4), and more where an end that is
    not zero would print as 0 (``-0.00``) at that precision."""
    if interval is None or not all(_finite(v) for v in interval) or interval[1] <= interval[0]:
        return default
    d = int(np.clip(1 - math.floor(math.log10(interval[1] - interval[0])), 1, 4))
    while d < 4 and any(float(v) != 0 and round(float(v), d) == 0 for v in interval):
        d += 1
    return d


def fmt_value(v, interval: tuple[float, float] | None = None, digits: int | None = None) -> str:
    if not _finite(v):
        return MISSING
    d = decimals(interval) if digits is None else digits
    return f"{float(v):.{d}f}"


def fmt_signed(v, interval: tuple[float, float] | None = None, digits: int | None = None) -> str:
    if not _finite(v):
        return MISSING
    d = decimals(interval) if digits is None else digits
    return f"{float(v):+.{d}f}"


def fmt_interval(interval: tuple[float, float] | None, value=None, signed: bool | None = None) -> str:
    """``[low, high]`` at the interval's own precision (signed when the value is a difference)."""
    if interval is None or not all(_finite(v) for v in interval):
        return ""
    d = decimals(interval)
    sign = "+" if (signed if signed is not None else (value is not None and _finite(value) and
                                                       (interval[0] < 0 or float(value) < 0))) else ""
    return f"[{float(interval[0]):{sign}.{d}f}, {float(interval[1]):{sign}.{d}f}]"


def fmt_p(p) -> str:
    """A p-value as words can carry it: ``< 1e-16`` below what doubles resolve, two significant digits above."""
    if not _finite(p):
        return MISSING
    p = float(p)
    if p < 1e-16:
        return "< 1e-16"
    if p < 0.001:
        return f"{p:.1e}"
    return f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def fmt(v, digits: int = 4) -> str:
    return MISSING if not _finite(v) else f"{float(v):.{digits}f}"


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    if isinstance(v, bool | np.bool_):
        return "yes" if v else "no"
    if isinstance(v, int | np.integer):
        return f"{int(v):,}"
    if isinstance(v, float | np.floating):
        if not math.isfinite(v):
            return "beyond the data" if v > 0 else MISSING
        return f"{v:.4g}"
    if isinstance(v, dict | list | tuple):
        return "; ".join(f"{k}: {_cell(x)}" for k, x in v.items()) if isinstance(v, dict) else \
            ", ".join(_cell(x) for x in v)
    return str(v)


def table(frame: pd.DataFrame | None, csv: str | None = None, top: int = TOP_ROWS) -> str:
    """An HTML table in a horizontally scrolling box; above ``top`` rows, the first ``top`` shown and the rest in a
    fold, with the CSV file that holds it named. P-value columns print as :func:`fmt_p`."""
    if frame is None or frame.empty:
        return "<p class='muted'>(no rows)</p>"
    shown = frame.copy()
    for col in shown.columns:
        if "p_value" in str(col) or "p_adjusted" in str(col) or str(col).startswith("p_"):
            shown[col] = [fmt_p(v) if _finite(v) else _cell(v) for v in shown[col]]
        else:
            shown[col] = [_cell(v) for v in shown[col]]
    where = f" (all {len(frame):,} rows: <code>{html.escape(csv)}</code>)" if csv else ""

    def render(part: pd.DataFrame) -> str:
        return "<div class='scroll'>" + part.to_html(index=False, border=0, escape=True) + "</div>"

    if len(shown) <= top + 4:  # folding away a handful of rows hides more than it saves
        return render(shown) + (f"<p class='muted'>In <code>{html.escape(csv)}</code>.</p>" if csv else "")
    return (render(shown.head(top)) + f"<details><summary>Show all {len(frame):,} rows{where}</summary>"
            + render(shown) + "</details>")


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
