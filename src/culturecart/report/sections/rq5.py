"""RQ5: how much does adding a country's data help?"""

from __future__ import annotations

import numpy as np

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, fmt, table


def rq5(res, figs: Figures) -> tuple[str, str]:
    s, eq = res.tables.get("rq5_curves"), res.tables.get("rq5_data_equivalent")
    if s is None or s.empty:
        return "RQ5 was not run.", "<p>RQ5 was not run.</p>"
    parts = []
    for target, g in s.groupby("target"):
        zero = g[(g["fraction"] == 0) & (g["arm"] == "culture")]["value"]
        zero_g = g[(g["fraction"] == 0) & (g["arm"] == "global")]["value"]
        full = g[(g["fraction"] == 1) & (g["arm"] == "local")]["value"]
        sentence = f"{target}: zero-shot AUC {fmt(zero.iloc[0] if len(zero) else np.nan, 3)} (culture-conditioned)"
        sentence += f" / {fmt(zero_g.iloc[0] if len(zero_g) else np.nan, 3)} (global)"
        sentence += f" vs {fmt(full.iloc[0] if len(full) else np.nan, 3)} for a local model on all its data"
        if eq is not None and not eq.empty:
            w = eq[(eq["target"] == target) & (eq["fraction"] == 0) & (eq["arm"] == "global")]["local_rows_needed"]
            if len(w):
                sentence += ("; the foreign data are worth more than all its rows" if not np.isfinite(w.iloc[0])
                             else f"; the foreign data are worth about {w.iloc[0]:,.0f} target rows")
        parts.append(sentence)
    text = "Adding countries: " + "; ".join(parts) + "."
    body = answer(text) + figs.img(plots.learning_curves_plot, (s,), "learning curves")
    body += "<h3>Curves (mean over seeds, t interval)</h3>" + table(s, 80)
    body += "<h3>Data-equivalent value of the foreign data</h3>" + table(eq, 80)
    return text, body
