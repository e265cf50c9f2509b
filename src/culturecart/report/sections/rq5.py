"""RQ5: how much does adding a country's data help?"""

from __future__ import annotations

import pandas as pd

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.findings import rq5_finding
from culturecart.report.format import answer, fmt_interval, fmt_p, fmt_signed, fmt_value, table


def rq5(res, figs: Figures) -> tuple[str, str]:
    s, eq, gain = (res.tables.get(k) for k in ("rq5_curves", "rq5_data_equivalent", "rq5_gain"))
    if s is None or s.empty:
        return "RQ5 was not run.", "<p>RQ5 was not run.</p>"
    finding = rq5_finding(res)
    text = finding.statement if finding else ""
    body = answer(text) + ("<p>Learning curves: each target country's held-out customers, scored by models "
                           "trained on a growing share of that country's own data, alone (<b>local</b>), with every "
                           "other country's data (<b>global</b>) or with it and the countries' cultural profiles "
                           "(<b>culture</b>). Share 0 is a model that never saw the country.</p>")
    body += figs.img(plots.learning_curves_plot, (s,), "learning curves")
    if gain is not None and not gain.empty:
        rows = [{"target": r.target, "own data only": fmt_value(r.local_auc, (r.ci_low, r.ci_high)),
                 "with the other countries": fmt_value(r.pooled_auc, (r.ci_low, r.ci_high)),
                 "gain": f"{fmt_signed(r.gain, (r.ci_low, r.ci_high))} {fmt_interval((r.ci_low, r.ci_high), r.gain, signed=True)}",
                 "p (adjusted)": fmt_p(r.p_adjusted)} for r in gain.itertuples()]
        body += "<h3>All of the country's own data, with and without the others</h3>" + table(pd.DataFrame(rows), csv="rq5_gain.csv")
    if eq is not None and not eq.empty:
        rows = []
        for r in eq.itertuples():
            worth = (f"{r.local_rows_needed:,.0f} of its own rows" if r.reached else
                     f"more than all {r.local_rows_available:,.0f} of its own rows (the local model never gets there)")
            rows.append({"target": r.target, "model": r.arm, "share of own data": f"{r.fraction:.0%}",
                         "AUC": fmt_value(r.auc), "a local model needs": worth})
        body += ("<h3>What the other countries' data are worth</h3><p class='muted'>How many of the target's own "
                 "rows a local model needs to reach the same AUC.</p>"
                 + table(pd.DataFrame(rows), csv="rq5_data_equivalent.csv"))
    rows = [{"target": r.target, "model": r.arm, "share of own data": f"{r.fraction:.0%}",
             "AUC": fmt_value(r.value, (r.ci_low, r.ci_high)), "95% interval": fmt_interval((r.ci_low, r.ci_high)),
             "seeds": int(r.n_seeds)} for r in s.itertuples()]
    body += "<h3>Every point of the curves</h3>" + table(pd.DataFrame(rows), csv="rq5_curves.csv")
    return text, body
