"""The markets study (ratings per market): RQ3 and RQ5 for rankers; one line on what ratings cannot answer."""

from __future__ import annotations

import pandas as pd

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.findings import markets_rq3_finding, markets_rq5_findings
from culturecart.report.format import answer, fmt_interval, fmt_p, fmt_signed, fmt_value, table

CANNOT = ("Ratings carry no purchase labels, texts, images, behaviour logs or offer attributes, so this data cannot "
          "answer RQ1 (fusing data sources), RQ2 (what drives predictions) or RQ4 (sensitivity to offer features).")


def rq3_markets(res, figs: Figures) -> tuple[str, str]:
    t, w = res.tables.get("rq3_table"), res.tables.get("rq3_winners")
    if t is None or t.empty:
        return "RQ3 was not run.", "<p>RQ3 was not run.</p>"
    finding = markets_rq3_finding(res)
    text = finding.statement if finding else ""
    body = answer(text) + (f"<p>Each market's held-out positive ranked among its candidates by the "
                           f"{res.config.ranking.model} ranker fitted on the market alone (<b>local</b>), on every "
                           "market (<b>global</b>), or with the other markets weighted by cultural closeness "
                           "(<b>culture</b>); nDCG@10: 1 when the positive ranks first, 0 beyond the tenth place.</p>")
    body += figs.img(plots.forest, (t, "ndcg@10", "market"), "per-market nDCG@10 by scope")
    if w is not None and not w.empty:
        body += "<h3>Best scope per market</h3>" + table(w, csv="rq3_winners.csv")
    vs = t[t["metric"] == "ndcg@10 vs local"]
    rows = [{"market": r.market, "scope": r.scope, "nDCG@10 vs local": fmt_signed(r.value, (r.ci_low, r.ci_high)),
             "95% interval": fmt_interval((r.ci_low, r.ci_high), r.value, signed=True),
             "p (adjusted)": fmt_p(r.p_adjusted)}
            for r in vs.itertuples()]
    body += "<h3>Pooled scopes against each market's own</h3>" + table(pd.DataFrame(rows), csv="rq3_table.csv")
    return text, body


def rq5_markets(res, figs: Figures) -> tuple[str, str]:
    gain, curves = res.tables.get("rq5_gain"), res.tables.get("rq5_curves")
    found = markets_rq5_findings(res)
    if not found and (curves is None or curves.empty):
        return "RQ5 was not run.", "<p>RQ5 was not run.</p>"
    items = [f.statement for f in found]
    if curves is not None and not curves.empty:
        zero = curves[(curves["fraction"] == 0) & (curves["arm"] == "global")].set_index("target")["value"]
        full = curves[(curves["fraction"] == 1) & (curves["arm"] == "local")].set_index("target")["value"]
        both = [t for t in zero.index if t in full.index]
        if both:
            items.append("With none of its own ratings, a model of the other markets reaches "
                         + ", ".join(f"{fmt_value(zero[t], digits=3)} in {t} (own data: {fmt_value(full[t], digits=3)})"
                                     for t in both) + " nDCG@10.")
    text = " ".join(items)
    body = "<ul class='answers'>" + "".join(f"<li>{answer(i)}</li>" for i in items) + "</ul>"
    if gain is not None and not gain.empty:
        body += "<h3>Adding one market to another</h3>" + figs.img(plots.gain_heatmap, (gain,), "gain matrix")
        rows = [{"target": r.target, "source added": r.source, "nDCG@10 gain": fmt_signed(r.gain, (r.ci_low, r.ci_high)),
                 "95% interval": fmt_interval((r.ci_low, r.ci_high), r.gain, signed=True),
                 "p (adjusted)": fmt_p(r.p_adjusted)}
                for r in gain.itertuples()]
        body += table(pd.DataFrame(rows), csv="rq5_gain.csv")
    if curves is not None and not curves.empty:
        body += "<h3>Learning curves over the target's own ratings</h3>"
        body += figs.img(plots.learning_curves_plot, (curves, "test nDCG@10", "share of the target's training ratings"),
                         "learning curves")
        rows = [{"target": r.target, "model": r.arm, "share of own ratings": f"{r.fraction:.0%}",
                 "nDCG@10": fmt_value(r.value, (r.ci_low, r.ci_high)), "95% interval": fmt_interval((r.ci_low, r.ci_high))}
                for r in curves.itertuples()]
        body += table(pd.DataFrame(rows), csv="rq5_curves.csv")
    return text, body
