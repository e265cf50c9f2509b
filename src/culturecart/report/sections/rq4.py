"""RQ4: which features is each culture sensitive to, and does it match prior research?

Effects read in percentage points of purchase probability (the average marginal effect of one standard deviation
of the feature); citations are short (``Kim (2019)``), their full references listed at the end of the page
(:func:`short_source`)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.findings import heterogeneity_table, rq4_heterogeneity_finding, rq4_literature_finding
from culturecart.report.format import answer, fmt_interval, fmt_p, fmt_signed, table


def short_source(source: str) -> str:
    """``Kim (2019), Electronic Commerce...`` -> ``Kim (2019)``: author and year, the reference list has the rest."""
    match = re.match(r"\s*([^,(]+?(?:et al\.)?)\s*\((\d{4}[a-z]?)\)", str(source))
    return f"{match.group(1).strip()} ({match.group(2)})" if match else str(source).split(",")[0]


def rq4(res, figs: Figures) -> tuple[str, str]:
    e, ver = res.tables.get("rq4_effects"), res.tables.get("rq4_literature")
    het = heterogeneity_table(res)
    first = rq4_heterogeneity_finding(res)
    if e is None or e.empty:
        text = first.statement if first else "RQ4 was not run."
        return text, answer(text)
    second = rq4_literature_finding(res)
    text = " ".join(f.statement for f in (first, second) if f is not None)
    rec = res.tables.get("rq4_recovery")
    if rec is not None and not rec.empty:
        mean = rec[rec["feature"] == "mean over features"].iloc[0]
        text += (f" On this simulation, the countries' order of sensitivity per feature is recovered with a rank "
                 f"correlation of {mean['spearman']:.2f} {fmt_interval((mean['ci_low'], mean['ci_high']))} against "
                 "the planted one.")
    body = answer(text) + ("<p>How much one standard deviation more of each offer feature changes the purchase "
                           "probability, in percentage points, country by country (a logit with country "
                           "interactions, standard errors clustered by user); whether those effects differ across "
                           "countries (a Wald test per feature); and whether they follow the cultural dimensions as "
                           "prior research expects.</p>")
    body += figs.img(plots.sensitivity_heatmap, (e,), "sensitivity per country")
    if het is not None and not het.empty:
        rows = [{"feature": r.feature, "verdict": r.verdict, "p": fmt_p(r.p_value),
                 "p calibrated": fmt_p(getattr(r, "p_calibrated", np.nan)), "p read (adjusted)": fmt_p(r.p_used_adjusted),
                 "read from": r.verdict_p} for r in het.itertuples()]
        body += "<h3>Do countries differ? One test per feature</h3>" + table(pd.DataFrame(rows),
                                                                           csv="rq4_heterogeneity.csv")
    rows = [{"country": r.country, "feature": r.feature,
             "effect (pp per SD)": fmt_signed(100 * r.ame, (100 * r.ame_ci_low, 100 * r.ame_ci_high)),
             "95% interval": fmt_interval((100 * r.ame_ci_low, 100 * r.ame_ci_high), 100 * r.ame)}
            for r in e.sort_values(["feature", "country"]).itertuples()]
    body += "<h3>Effects per country</h3>" + table(pd.DataFrame(rows), csv="rq4_effects.csv")
    sens = res.tables.get("rq4_sensitivity")
    if ver is not None and sens is not None:
        from culturecart.data.hofstede import shipped_hofstede

        body += "<h3>Against prior research on cultural dimensions</h3>"
        body += figs.img(plots.hofstede_scatter, (sens, shipped_hofstede(), ver), "sensitivity against Hofstede")
        rows = [{"feature": r.feature, "dimension": r.dimension, "expected": "+" if r.expected_sign > 0 else "-",
                 "rank correlation": f"{r.rho:+.2f}" if pd.notna(r.rho) else "–", "p (adjusted)": fmt_p(r.p_adjusted),
                 "verdict": r.verdict, "source": short_source(r.source)} for r in ver.itertuples()]
        body += table(pd.DataFrame(rows), csv="rq4_literature.csv")
    if rec is not None and not rec.empty:
        rows = [{"feature": r.feature, "rank correlation with the planted": f"{r.spearman:+.2f}",
                 "95% interval": fmt_interval((r.ci_low, r.ci_high), r.spearman),
                 "highest attainable": f"{r.max_attainable:.2f}"} for r in rec.itertuples()]
        body += ("<h3>Recovery of the planted sensitivities (simulation only)</h3>"
                 + table(pd.DataFrame(rows), csv="rq4_recovery.csv"))
    if "rq4_partial_dependence" in res.tables:
        body += ("<h3>The global model's own view: partial-dependence slopes</h3>"
                 + table(res.tables["rq4_partial_dependence"], csv="rq4_partial_dependence.csv"))
    return text, body
