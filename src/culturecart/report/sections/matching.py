"""Product matching: the F1 ladder."""

from __future__ import annotations

import pandas as pd

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, fmt_interval, fmt_value, table


def matching(res, figs: Figures) -> tuple[str, str]:
    f = res.tables.get("matching_ladder")
    if f is None or f.empty:
        return "", ""
    last = f.iloc[-1]
    iv = (last["ci_low"], last["ci_high"])
    text = (f"Product matching finds the same product's listings with mean F1 {fmt_value(last['value'], iv)} "
            f"{fmt_interval(iv)} ({last['model']}: every step of the ladder switched on).")
    rows = [{"step": r.model, "mean F1": fmt_value(r.value, (r.ci_low, r.ci_high)),
             "95% interval (folds)": fmt_interval((r.ci_low, r.ci_high))} for r in f.itertuples()]
    return text, (answer(text) + figs.img(plots.ladder_bars, (f,), "matching F1 ladder")
                  + table(pd.DataFrame(rows), csv="matching_ladder.csv"))
