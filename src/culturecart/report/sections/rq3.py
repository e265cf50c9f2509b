"""RQ3: one global model, or local / culture-aware models?"""

from __future__ import annotations

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, false_positive_rate, fmt, table


def rq3(res, figs: Figures) -> tuple[str, str]:
    t, w = res.tables.get("rq3_table"), res.tables.get("rq3_winners")
    if t is None or t.empty or w is None or w.empty:
        return "RQ3 was not run (it needs two or more countries).", "<p>RQ3 was not run.</p>"
    counts = w["winner"].value_counts()
    sig = int(w["significant"].sum())
    cfs = t[(t["metric"] == "cultural_fit_score") & (t["scope"] == "global")]["value"]
    text = (f"Across {len(w)} countries the winning scope is " + ", ".join(f"{k} in {v}" for k, v in counts.items())
            + f"; {sig} of these wins are significant after Benjamini-Hochberg correction (DeLong, winner vs "
            f"runner-up). The global model's median cultural-fit score is {fmt(cfs.median(), 3)} "
            "(1 = as good as the best country-specific model).")
    if false_positive_rate(res, "rq3"):
        text += f" Calibration: a country-aware scope winning significantly has a {false_positive_rate(res, 'rq3')} on this data."
    align = res.tables.get("rq4_alignment")
    if align is not None and align["alignment"].notna().any():
        text += (f" Median alignment of the global model's implied sensitivities with literature expectations: "
                 f"{fmt(align['alignment'].median(), 2)}.")
    body = answer(text) + figs.img(plots.forest, (t,), "per-country forest plot")
    winners = w.copy()
    winners.insert(winners.columns.get_loc("p_value") if "p_value" in winners else len(winners.columns), "test",
                   "DeLong, winner vs runner-up; BH across countries")
    if false_positive_rate(res, "rq3"):
        winners["false_positive_rate"] = false_positive_rate(res, "rq3").replace("false-positive rate ", "")
    body += "<h3>Winner per country</h3>" + table(winners)
    body += "<h3>Per-country table</h3>" + table(t.drop(columns=["question"]), 80)
    return text, body
