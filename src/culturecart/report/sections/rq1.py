"""RQ1: does fusing modalities predict purchases better than any one modality?"""

from __future__ import annotations

import pandas as pd

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.findings import rq1_finding
from culturecart.report.format import answer, fmt_interval, fmt_p, fmt_signed, fmt_value, table


def rq1(res, figs: Figures) -> tuple[str, str]:
    t = res.tables.get("rq1_table")
    if t is None or t.empty:
        return "RQ1 was not run.", "<p>RQ1 was not run.</p>"
    finding = rq1_finding(res)
    text = finding.statement if finding else ""
    auc = t[t["metric"] == "roc_auc"].sort_values("value", ascending=False)
    body = answer(text) + ("<p>How well each model tells buyers from non-buyers on held-out rows (AUC: 0.5 is "
                           "chance, 1 perfect), for every combination of data sources.</p>")
    if res.curves:
        body += figs.img(plots.roc_pr_calibration, (res.curves,), "ROC, precision-recall and calibration curves")
    top = auc.head(15).assign(run=lambda f: f["model"] + " [" + f["modalities"] + "]")
    body += figs.img(plots.interval_bars, (top, "run", "Test AUC (95% interval; users resampled)", "AUC", 0.5,
                                           (0.5, 1.0)), "AUC of the best runs")
    lift = t[t["metric"] == "auc_lift_vs_best_unimodal"].set_index(["model", "modalities"])
    rows = []
    for r in auc.itertuples():
        iv = (r.ci_low, r.ci_high)
        row = {"model": r.model, "data": r.modalities, "AUC": fmt_value(r.value, iv), "95% interval": fmt_interval(iv)}
        if (r.model, r.modalities) in lift.index:
            lf = lift.loc[(r.model, r.modalities)]
            liv = (lf["ci_low"], lf["ci_high"])
            row.update({"vs best single source": f"{fmt_signed(lf['value'], liv)} {fmt_interval(liv, lf['value'], signed=True)}",
                        "p (adjusted)": fmt_p(lf["p_adjusted"])})
        rows.append(row)
    body += "<h3>Every run, best first</h3>" + table(pd.DataFrame(rows), csv="rq1_table.csv")
    return text, body
