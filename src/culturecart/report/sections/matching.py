"""Product matching: the F1 ladder."""

from __future__ import annotations

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, fmt, table


def matching(res, figs: Figures) -> tuple[str, str]:
    f = res.tables.get("matching_ladder")
    if f is None or f.empty:
        return "", ""
    text = f"Product matching reaches mean F1 {fmt(f['value'].iloc[-1], 3)} ({f['model'].iloc[-1]})."
    return text, answer(text) + figs.img(plots.ladder_bars, (f,), "matching F1 ladder") + table(f)
