"""The study report: one self-contained HTML file (inline CSS, figures as embedded PNG, no scripts).

Sections (ids): ``summary``, ``rq1``, ``rq2``, ``rq3``, ``rq4``, ``rq5``, ``trust`` (after ``culturecart calibrate``),
``matching`` (when run), ``methods``,
``caveats``. The summary answers each research question in plain words with the numbers behind it; each section is a module
of :mod:`culturecart.report.sections`.
"""

from __future__ import annotations

import html
from pathlib import Path

from culturecart.atomic import atomic_write_text
from culturecart.report.figures import Figures
from culturecart.report.sections.markets import cannot, rq3_markets, rq5_markets
from culturecart.report.sections.matching import matching
from culturecart.report.sections.methods import methods_events, methods_markets
from culturecart.report.sections.rq1 import rq1
from culturecart.report.sections.rq2 import rq2
from culturecart.report.sections.rq3 import rq3
from culturecart.report.sections.rq4 import rq4
from culturecart.report.sections.rq5 import rq5
from culturecart.report.sections.trust import trust

SECTIONS = ("summary", "rq1", "rq2", "rq3", "rq4", "rq5", "methods", "caveats")
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.7em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.82em;margin:.6em 0}td,th{border:1px solid #ddd;padding:.25em .5em;
text-align:right}th{background:#f3f3f3}img{max-width:100%;margin:.5em 0}.answer{background:#f6f9ff;
border-left:4px solid #4c72b0;padding:.6em 1em;margin:.6em 0}.muted{color:#666;font-size:.9em}
nav a{margin-right:1em}
"""


def write_report(res, path: str | Path, n_jobs: int = 1) -> Path:
    """Render the report for a finished study into ``path`` (atomically); ``n_jobs`` local processes draw the
    figures (:func:`culturecart.parallel.parallel_map`, loky: a study passes its own workers' count)."""
    path = Path(path)
    answers, bodies = {}, {}
    markets = getattr(res, "kind", "events") == "markets"
    sections = (("rq1", lambda r, f: cannot("rq1")), ("rq2", lambda r, f: cannot("rq2")), ("rq3", rq3_markets),
                ("rq4", lambda r, f: cannot("rq4")), ("rq5", rq5_markets)) if markets else (
        ("rq1", rq1), ("rq2", rq2), ("rq3", rq3), ("rq4", rq4), ("rq5", rq5), ("trust", trust), ("matching", matching))
    figs = Figures()
    for key, fn in sections:
        answers[key], bodies[key] = fn(res, figs)
    titles = {"rq1": "RQ1 - Does fusing modalities predict purchases better than any one modality?",
              "rq2": "RQ2 - Which modalities and features drive the prediction?",
              "rq3": "RQ3 - One global model, or local / culture-aware models?",
              "rq4": "RQ4 - Which features is each culture sensitive to, and does it match prior research?",
              "rq5": "RQ5 - How much does adding a country's data help?",
              "trust": "How far to trust these answers",
              "matching": "Product matching"}
    shown = [k for k in titles if bodies.get(k)]
    caveats = list(dict.fromkeys(res.notes + [
        "Few countries make every culture-level correlation uncertain; read the permutation p-values and the "
        "number of countries beside each figure.",
        "Minkov (2018) cautions that uncertainty-avoidance measures are of doubtful reliability.",
        "Hofstede scores describe national averages, not individual consumers.",
    ] + (["This is a simulated marketplace: effects were planted from the cited literature (truth.json), so "
          "agreement with the literature checks recovery, not the literature."] if res.truth else [])))
    summary = "".join(f"<p><b>{titles[k].split(' - ')[0]}.</b> {html.escape(answers[k])}</p>" for k in shown)
    nav = "".join(f"<a href='#{k}'>{k.upper() if k.startswith('rq') else k}</a>" for k in shown)
    doc = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>culturecart report - {html.escape(res.config.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>culturecart report: {html.escape(res.config.name)}</h1>",
        f"<nav>{nav}<a href='#methods'>methods</a><a href='#caveats'>caveats</a></nav>",
        f"<section id='summary'><h2>Summary</h2>{summary}</section>",
    ]
    doc += [f"<section id='{k}'><h2>{html.escape(titles[k])}</h2>{bodies[k]}</section>" for k in shown]
    methods = methods_markets(res) if markets else methods_events(res)
    doc += [f"<section id='methods'><h2>Methods (what ran)</h2>{methods}</section>",
            "<section id='caveats'><h2>Caveats</h2><ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in caveats)
            + "</ul></section>", "</body></html>"]
    atomic_write_text(path, figs.drawn_into("\n".join(doc), n_jobs))
    return path
