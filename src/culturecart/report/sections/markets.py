"""The markets study (ratings per market): RQ3 and RQ5 for rankers, and what ratings cannot answer."""

from __future__ import annotations

import numpy as np

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, fmt, table

NOT_FROM_RATINGS = {
    "rq1": "Ratings carry no text, images, behaviour logs, consumer or item attributes and no purchase labels: "
           "there are no modalities to fuse, so this data cannot answer RQ1.",
    "rq2": "Without modalities or features there is nothing to attribute a prediction to: this data cannot "
           "answer RQ2.",
    "rq4": "Feature sensitivities need item and offer features (price, discount, shipping...) beside the outcome; "
           "ratings have none, so this data cannot answer RQ4.",
}


def cannot(key: str) -> tuple[str, str]:
    text = NOT_FROM_RATINGS[key]
    return text, answer(text)


def rq3_markets(res, figs: Figures) -> tuple[str, str]:
    t, w = res.tables.get("rq3_table"), res.tables.get("rq3_winners")
    if t is None or t.empty:
        return "RQ3 was not run.", "<p>RQ3 was not run.</p>"
    model = res.config.ranking.model
    counts = w["winner"].value_counts()
    vs = t[t["metric"] == "ndcg@10 vs local"]
    better = vs[(vs["p_adjusted"] < 0.05) & (vs["value"] > 0)]
    worse = vs[(vs["p_adjusted"] < 0.05) & (vs["value"] < 0)]
    cfs = t[(t["metric"] == "cultural_fit_score") & (t["scope"] == "global")]["value"]
    text = (f"With the {model} ranker, the scope with the highest test nDCG@10 is "
            + ", ".join(f"{k} in {v} market(s)" for k, v in counts.items())
            + f" of {len(w)}. Against the local model, {len(better)} of {len(vs)} pooled scopes are significantly "
            f"better and {len(worse)} significantly worse (Wilcoxon on per-user nDCG@10, Benjamini-Hochberg). The "
            f"global model's median cultural-fit score on nDCG@10 is {fmt(cfs.median(), 3)} (1 = as good as the "
            "local model; above 1: pooling helps).")
    body = answer(text) + figs.img(plots.forest, (t, "ndcg@10"), "per-market nDCG@10 by scope")
    body += "<h3>Best scope per market (test nDCG@10)</h3>" + table(w)
    body += "<h3>Per-market table: nDCG@10, HR@10, paired differences vs local, cultural-fit score</h3>"
    return text, body + table(t, 120)


def rq5_markets(res, figs: Figures) -> tuple[str, str]:
    gain, link, curves = (res.tables.get(k) for k in ("rq5_gain", "rq5_gain_hofstede", "rq5_curves"))
    parts, body = [], ""
    if gain is not None and not gain.empty:
        sig = gain[(gain["p_adjusted"] < 0.05) & (gain["gain"] > 0)]
        parts.append(f"adding one source market raises the target's test nDCG@10 in {int((gain['gain'] > 0).sum())} "
                     f"of {len(gain)} source x target pairs ({len(sig)} significant after Benjamini-Hochberg); "
                     f"the largest gain is {gain['gain'].max():+.4f} ({gain.loc[gain['gain'].idxmax(), 'source']} "
                     f"into {gain.loc[gain['gain'].idxmax(), 'target']})")
        body += figs.img(plots.gain_heatmap, (gain,), "gain matrix")
        if link is not None and not link.empty and np.isfinite(link["r"].iloc[0]):
            r = link.iloc[0]
            parts.append(f"the gain's correlation with the Hofstede distance of the two countries is r = "
                         f"{r['r']:.3f} (Mantel permutation p = {r['p']:.3f}, {int(r['permutations'])} permutations of "
                         f"{int(r['markets'])} markets; partial r given the source's size {r['partial_r']:.3f}, "
                         f"p = {r['partial_p']:.3f})")
    if curves is not None and not curves.empty:
        for target, g in curves.groupby("target"):
            zero = g[(g["fraction"] == 0) & (g["arm"] == "global")]["value"]
            full = g[(g["fraction"] == 1) & (g["arm"] == "local")]["value"]
            if len(zero) and len(full):
                parts.append(f"{target}: zero-shot from the other markets {fmt(zero.iloc[0])} vs "
                             f"{fmt(full.iloc[0])} for the local model on all its data")
        body += "<h3>Learning curves over the target's training data</h3>"
        body += figs.img(plots.learning_curves_plot,
                         (curves, "test nDCG@10", "share of the target's training ratings"), "learning curves")
        body += table(curves, 120)
    if not parts:
        return "RQ5 was not run.", "<p>RQ5 was not run.</p>"
    text = "Adding markets: " + "; ".join(parts) + "."
    if gain is not None and not gain.empty:
        body += "<h3>Gain matrix (rows: target, source added)</h3>" + table(gain, 80)
    return text, answer(text) + body
