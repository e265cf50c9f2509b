"""RQ3: one global model, or local / culture-aware models?"""

from __future__ import annotations

import pandas as pd

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.findings import rq3_finding
from culturecart.report.format import answer, fmt_interval, fmt_p, fmt_signed, fmt_value, table


def rq3(res, figs: Figures) -> tuple[str, str]:
    t, w = res.tables.get("rq3_table"), res.tables.get("rq3_winners")
    if t is None or t.empty or w is None or w.empty:
        return "RQ3 was not run (it needs two or more countries).", "<p>RQ3 was not run.</p>"
    finding = rq3_finding(res)
    text = finding.statement if finding else ""
    body = answer(text) + ("<p>Each country's held-out customers scored by one model of all countries "
                           "(<b>global</b>), by a model of that country alone (<b>local</b>), by one model that sees "
                           "each country's cultural profile instead of its name (<b>culture</b>) and, where run, by the "
                           "global model tuned on the country (<b>finetune</b>).</p>")
    body += figs.img(plots.forest, (t,), "per-country AUC by model scope")
    delta = t[t["metric"] == "auc_delta_vs_global"]
    rows = [{"country": r.country, "scope": r.scope, "AUC vs global": fmt_signed(r.value, (r.ci_low, r.ci_high)),
             "95% interval": fmt_interval((r.ci_low, r.ci_high), r.value, signed=True), "p (adjusted)": fmt_p(r.p_adjusted)}
            for r in delta.sort_values(["country", "scope"]).itertuples()]
    body += "<h3>Country-aware models against the global one</h3>" + table(pd.DataFrame(rows), csv="rq3_table.csv")
    cfs = t[t["metric"] == "cultural_fit_score"]
    if not cfs.empty:
        rows = [{"country": r.country, "scope": r.scope, "cultural-fit score": fmt_value(r.value, (r.ci_low, r.ci_high)),
                 "95% interval": fmt_interval((r.ci_low, r.ci_high))} for r in cfs.itertuples()]
        body += ("<h3>Cultural-fit score</h3><p class='muted'>How close each scope comes, in that country, to the "
                 "best country-specific model: 1 = as good, below 1 = worse (see the glossary).</p>"
                 + table(pd.DataFrame(rows), csv="rq3_table.csv"))
    return text, body
