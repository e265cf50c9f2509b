"""The study report: one self-contained HTML file (inline CSS, figures as embedded PNG, no scripts).

It opens with the study's findings (:mod:`culturecart.report.findings`: at most six plain sentences, each with its
strength label), then one section per research question (a module of :mod:`culturecart.report.sections` each:
its lead sentence, its figures, its tables folded to their top rows), then what ran, a glossary, the references
behind the short citations, and the caveats. Section ids (:data:`SECTIONS`): ``findings``, ``rq1`` ... ``rq5``,
``trust`` (when calibration ran), ``matching`` (when run), ``methods``, ``glossary``, ``references``,
``caveats``. A markets study (ratings) has ``rq3`` and ``rq5`` and says in one line at the end what ratings
cannot answer (``cannot``).
"""

from __future__ import annotations

import html
from pathlib import Path

from culturecart.atomic import atomic_write_text
from culturecart.report.figures import Figures
from culturecart.report.findings import STRENGTHS, Finding, study_findings
from culturecart.report.format import fmt_p
from culturecart.report.sections.markets import CANNOT, rq3_markets, rq5_markets
from culturecart.report.sections.matching import matching
from culturecart.report.sections.methods import methods_events, methods_markets
from culturecart.report.sections.rq1 import rq1
from culturecart.report.sections.rq2 import rq2
from culturecart.report.sections.rq3 import rq3
from culturecart.report.sections.rq4 import rq4, short_source
from culturecart.report.sections.rq5 import rq5
from culturecart.report.sections.trust import trust

SECTIONS = ("findings", "methods", "glossary", "references", "caveats")  # every report has these
TITLES = {"rq1": "RQ1 - Does combining kinds of data predict purchases better than any one kind?",
          "rq2": "RQ2 - Which kinds of data and which features drive the prediction?",
          "rq3": "RQ3 - One global model, or models that know the country or culture?",
          "rq4": "RQ4 - Which offer features is each culture sensitive to, and does it match prior research?",
          "rq5": "RQ5 - How much does adding other countries' data help?",
          "trust": "How far to trust these answers",
          "matching": "Product matching"}
GLOSSARY = {
    "AUC": "Area under the ROC curve: the chance that the model scores a random purchase above a random "
           "non-purchase. 0.5 is guessing, 1 is perfect. A gain of 0.01 AUC is small but often worth having.",
    "nDCG@10": "How high a ranker puts the item a user really chose among its candidates: 1 when first, lower "
               "further down, 0 beyond the tenth place.",
    "95% interval": "The range of values compatible with the data (a bootstrap over users unless said "
                    "otherwise); written [low, high] after the estimate.",
    "percentage points (pp)": "A change in purchase probability: from 3.0% to 3.5% is +0.5 pp. RQ4's effects "
                              "are the average change for one standard deviation more of a feature.",
    "p-value": "How often a difference at least this large would appear if there were none. Small is evidence "
               "of a difference; printed as < 1e-16 below what a computer can resolve.",
    "BH (Benjamini-Hochberg)": "The correction for running many tests at once: it controls the share of false "
                               "discoveries among the findings called shown. Findings read BH-adjusted p-values.",
    "calibrated p-value": "A p-value measured on simulations of this very design with nothing planted: "
                          "(1 + simulations at least as extreme) / (1 + simulations). Used where the usual "
                          "(asymptotic) test is unreliable, i.e. on few users per country.",
    "DeLong test": "A test of whether two models' AUCs on the same rows differ (DeLong, DeLong & "
                   "Clarke-Pearson 1988).",
    "Wald test": "RQ4's test of whether a feature's effect is the same in every country, from a logit with "
                 "country interactions and standard errors clustered by user.",
    "Hofstede dimensions": "Country scores (0-100) for power distance (PDI), individualism (IDV), masculinity "
                           "(MAS), uncertainty avoidance (UAI), long-term orientation (LTO) and indulgence (IVR) "
                           "(Hofstede, Hofstede & Minkov 2010). They describe national averages, not individuals.",
    "cultural-fit score": "How much of the best country-specific model's edge over guessing another model "
                          "keeps in a country: (AUC - 0.5) / (best country's AUC - 0.5); 1 = as good.",
    "Shapley share": "A fair split of the model's gain over guessing among the kinds of data, averaged over "
                     "every order of adding them.",
    "strength labels": "; ".join(f"{k}: {v}" for k, v in STRENGTHS.items()) + ".",
}
METHOD_REFERENCES = [
    "Benjamini & Hochberg (1995), Journal of the Royal Statistical Society B 57(1):289-300",
    "DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44(3):837-845",
    "Efron (1987), Journal of the American Statistical Association 82(397):171-185 (bias-corrected intervals)",
    "Hofstede, Hofstede & Minkov (2010), Cultures and Organizations, 3rd ed.",
    "Minkov (2018), Cross Cultural & Strategic Management 25(2):231-256",
    "Cameron, Gelbach & Miller (2008), Review of Economics and Statistics 90(3):414-427 (few clusters)",
]
CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;
color:#222;line-height:1.5;overflow-wrap:break-word}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{font-size:1.05em;margin-top:1.4em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.82em;margin:.4em 0}td,th{border:1px solid #ddd;padding:.25em .5em;
text-align:right;white-space:nowrap}th{background:#f3f3f3}
img{max-width:100%;height:auto;margin:.5em 0}
.answer{background:#f6f9ff;border-left:4px solid #4c72b0;padding:.6em 1em;margin:.6em 0}
.muted{color:#666;font-size:.9em}
nav{margin:.6em 0 1em}nav a{margin-right:.9em;white-space:nowrap}
ol.findings{padding-left:1.4em}ol.findings li{margin:.7em 0}
.strength{display:inline-block;min-width:8.5em;font-size:.78em;font-weight:600;padding:.1em .5em;border-radius:.8em;
margin-right:.5em;text-align:center;background:#eee;color:#333}
.s-clear{background:#1b7837;color:#fff}.s-likely{background:#a6dba0}.s-negligible{background:#d9d9d9}
.s-no-evidence-either-way{background:#fee08b}.s-descriptive{background:#c6dbef}.s-not-tested{background:#f0f0f0;
color:#666}
details{margin:.3em 0 1em}summary{cursor:pointer;color:#4c72b0}
dl dt{font-weight:600;margin-top:.5em}dl dd{margin-left:1.5em}
"""


def _finding(f: Finding) -> str:
    css = "s-" + f.strength.replace(" ", "-")
    how = []
    if f.p is not None:
        how.append(f"p {fmt_p(f.p)}")
    if f.p_calibrated is not None:
        how.append(f"calibrated p {fmt_p(f.p_calibrated)}")
    if f.p_adjusted is not None:
        how.append(f"corrected for the family's tests {fmt_p(f.p_adjusted)}")
    if f.checked:
        how.append(f.checked)
    detail = f"<br><span class='muted'>{html.escape('; '.join(how))}</span>" if how else ""
    return (f"<li><span class='strength {css}' title='{html.escape(STRENGTHS[f.strength])}'>"
            f"{html.escape(f.strength)}</span><b>{html.escape(f.question)}</b> {html.escape(f.statement)}{detail}</li>")


def _references(res) -> list[str]:
    cited = []
    lit = res.tables.get("rq4_literature")
    if lit is not None and "source" in lit:
        cited = [str(s) for s in lit["source"].dropna().unique()]
    return sorted(set(cited) | set(METHOD_REFERENCES), key=lambda s: short_source(s).lower())


def _lede(res, markets: bool) -> str:
    if markets:
        return (f"Ratings from {len(res.countries)} markets ({html.escape(', '.join(res.countries))}), "
                f"{res.n_rows:,} training ratings: how well recommenders rank, alone or pooled across markets.")
    simulated = " A simulated marketplace: its effects were planted (truth.json)." if res.truth else ""
    return (f"{html.escape(res.dataset_name)}: {res.n_rows:,} events from {len(res.countries)} countries, with "
            f"{html.escape(', '.join(res.modalities))}.{simulated}")


def write_report(res, path: str | Path, n_jobs: int = 1, findings: list[Finding] | None = None) -> Path:
    """Render the report for a finished study into ``path`` (atomically); ``n_jobs`` local processes draw the
    figures (:func:`culturecart.parallel.parallel_map`, loky: a study passes its own workers' count).
    ``findings`` default to :func:`culturecart.report.findings.study_findings` of ``res``."""
    path = Path(path)
    findings = study_findings(res) if findings is None else findings
    markets = getattr(res, "kind", "events") == "markets"
    sections = (("rq3", rq3_markets), ("rq5", rq5_markets)) if markets else (
        ("rq1", rq1), ("rq2", rq2), ("rq3", rq3), ("rq4", rq4), ("rq5", rq5), ("trust", trust), ("matching", matching))
    figs = Figures()
    bodies = {key: fn(res, figs)[1] for key, fn in sections}
    shown = [k for k in TITLES if bodies.get(k)]
    caveats = list(dict.fromkeys(res.notes + ([] if markets else [
        "Few countries make every culture-level correlation uncertain; read the number of countries beside "
        "each figure.",
        "Minkov (2018) cautions that uncertainty-avoidance measures are of doubtful reliability.",
        "Hofstede scores describe national averages, not individual consumers.",
    ]) + (["This is a simulated marketplace: effects were planted from the cited literature (truth.json), so "
           "agreement with the literature checks recovery, not the literature."] if res.truth else [])))
    nav = ["<a href='#findings'>Findings</a>"]
    nav += [f"<a href='#{k}'>{k.upper() if k.startswith('rq') else k.capitalize()}</a>" for k in shown]
    nav += [f"<a href='#{k}'>{k.capitalize()}</a>" for k in ("methods", "glossary", "references", "caveats")]
    items = "".join(_finding(f) for f in findings) or "<li>No analysis produced a finding.</li>"
    doc = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>culturecart report - {html.escape(res.config.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>culturecart report: {html.escape(res.config.name)}</h1>",
        f"<p class='muted'>{_lede(res, markets)}</p>",
        f"<nav>{''.join(nav)}</nav>",
        f"<section id='findings'><h2>Findings</h2><ol class='findings'>{items}</ol>"
        "<p class='muted'>Each label comes from the finding's test, the correction for the number of tests and, "
        "on a small design, the calibration (<a href='#glossary'>the scale</a>). The same findings are in "
        "<code>findings.json</code> and <code>findings.md</code>.</p></section>",
    ]
    doc += [f"<section id='{k}'><h2>{html.escape(TITLES[k])}</h2>{bodies[k]}</section>" for k in shown]
    methods = methods_markets(res) if markets else methods_events(res)
    glossary = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in GLOSSARY.items())
    refs = "".join(f"<li>{html.escape(r)}</li>" for r in _references(res))
    doc += [f"<section id='methods'><h2>Methods (what ran)</h2>{methods}</section>",
            f"<section id='glossary'><h2>Glossary</h2><dl>{glossary}</dl></section>",
            f"<section id='references'><h2>References</h2><ul>{refs}</ul></section>",
            "<section id='caveats'><h2>Caveats</h2><ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in caveats)
            + "</ul></section>"]
    if markets:
        doc.append(f"<section id='cannot'><p class='muted'>{html.escape(CANNOT)}</p></section>")
    doc.append("</body></html>")
    atomic_write_text(path, figs.drawn_into("\n".join(doc), n_jobs))
    return path
