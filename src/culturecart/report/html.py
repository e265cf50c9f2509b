"""The study report: one self-contained HTML file (inline CSS, figures as embedded PNG, no scripts).

Sections (ids): ``summary``, ``rq1``, ``rq2``, ``rq3``, ``rq4``, ``rq5``, ``trust`` (after ``culturecart calibrate``),
``matching`` (when run), ``methods``,
``caveats``. The summary answers each research question in plain words with the numbers behind it.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.atomic import atomic_write_text
from culturecart.parallel import parallel_map
from culturecart.report import plots

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


def _fmt(v: float, digits: int = 4) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def _table(frame: pd.DataFrame, max_rows: int = 40) -> str:
    if frame is None or frame.empty:
        return "<p class='muted'>(empty)</p>"
    shown = frame.head(max_rows)
    more = f"<p class='muted'>{len(frame) - max_rows} more rows in the CSV.</p>" if len(frame) > max_rows else ""
    return shown.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="", border=0) + more


def _img(uri: str, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='{uri}'>"


class _Figures:
    """The figures the sections ask for (a :mod:`~culturecart.report.plots` function and its arguments), each
    left as a placeholder while the sections are written and drawn all together at the end, in parallel where
    there are several processes: drawing is most of writing a report."""

    def __init__(self) -> None:
        self.calls: list[tuple[Callable[..., str], tuple]] = []
        self.token = f"figure-{secrets.token_hex(8)}-"  # never in a section's own text

    def img(self, draw: Callable[..., str], args: tuple, alt: str) -> str:
        self.calls.append((draw, args))
        return _img(f"{self.token}{len(self.calls) - 1}", alt)

    def drawn_into(self, text: str, n_jobs: int = 1) -> str:
        """``text`` with each placeholder replaced by its figure's PNG data URI."""
        uris = parallel_map(_draw, self.calls, n_jobs=n_jobs, backend="loky")
        return re.sub(re.escape(self.token) + r"(\d+)", lambda m: uris[int(m.group(1))], text)


def _draw(draw: Callable[..., str], args: tuple) -> str:
    return draw(*args)


def _p(text: str) -> str:
    return f"<div class='answer'>{html.escape(text)}</div>"


def _rq1(res, figs: _Figures) -> tuple[str, str]:
    t = res.tables.get("rq1_table")
    if t is None or t.empty:
        return "RQ1 was not run.", "<p>RQ1 was not run.</p>"
    auc = t[t["metric"] == "roc_auc"].sort_values("value", ascending=False)
    best = auc.iloc[0]
    uni = auc[auc["n_modalities"] == 1]
    text = (f"The best model, {best['model']} on {best['modalities']}, reaches ROC-AUC {_fmt(best['value'])} "
            f"(95% CI {_fmt(best['ci_low'])}-{_fmt(best['ci_high'])}) on held-out rows.")
    if not uni.empty and best["n_modalities"] > 1:
        u = uni.iloc[0]
        lift = t[(t["metric"] == "auc_lift_vs_best_unimodal") & (t["model"] == best["model"])
                 & (t["modalities"] == best["modalities"])]
        text += (f" The best single modality ({u['modalities']}, {u['model']}) reaches {_fmt(u['value'])}")
        if not lift.empty:
            lf = lift.iloc[0]
            text += (f"; fusion adds {_fmt(lf['value'])} AUC (95% CI {_fmt(lf['ci_low'])} to {_fmt(lf['ci_high'])}, "
                     f"DeLong p = {lf['p_value']:.2g}).")
    body = _p(text)
    if res.curves:
        body += figs.img(plots.roc_pr_calibration, (res.curves,), "ROC, precision-recall and calibration curves")
    top = auc.head(25).assign(run=lambda f: f["model"] + " [" + f["modalities"] + "]")
    body += figs.img(plots.interval_bars, (top, "run", "Test ROC-AUC (95% cluster-bootstrap CI)", "ROC-AUC", 0.5),
                     "AUC bars")
    wide = t[t["metric"].isin(["roc_auc", "pr_auc", "log_loss", "brier", "ece", "ndcg@10", "mrr"])].pivot_table(
        index=["model", "modalities"], columns="metric", values="value").reset_index()
    lift = t[t["metric"] == "auc_lift_vs_best_unimodal"][["model", "modalities", "value", "ci_low", "ci_high",
                                                            "p_value"]]
    lift = lift.rename(columns={"value": "auc_lift", "ci_low": "lift_ci_low", "ci_high": "lift_ci_high",
                                "p_value": "delong_p"})
    merged = wide.merge(lift, on=["model", "modalities"], how="left").sort_values("roc_auc", ascending=False)
    body += "<h3>RQ1 table (all metrics; lift over the best unimodal model with its CI)</h3>" + _table(merged, 60)
    return text, body


def _rq2(res, figs: _Figures) -> tuple[str, str]:
    m = res.tables.get("rq2_modalities")
    if m is None or m.empty:
        return "RQ2 was not run.", "<p>RQ2 was not run.</p>"
    shap = m[m["metric"] == "shapley_auc"].sort_values("value", ascending=False)
    text = ""
    if not shap.empty:
        order = ", ".join(f"{r.modalities} ({r.value:+.4f})" for r in shap.itertuples())
        text = f"Exact modality Shapley values of LightGBM's test AUC rank the modalities: {order}."
        planted = (res.truth or {}).get("modality_signal_sd")
        if planted:
            from scipy.stats import spearmanr

            common = [r.modalities for r in shap.itertuples() if r.modalities in planted]
            if len(common) >= 3:
                rho = spearmanr([shap.set_index("modalities").loc[c, "value"] for c in common],
                                [planted[c] for c in common]).statistic
                text += f" Rank correlation with the simulator's planted signal per modality: {rho:.2f}."
    att = m[m["metric"] == "attention_share"]
    if not att.empty:
        a = att[att["country"] == "all"].sort_values("value", ascending=False)
        text += " The transformer's CLS attention goes mostly to " + ", ".join(
            f"{r.modalities} ({r.value:.0%})" for r in a.head(3).itertuples()) + "."
    body = _p(text or "Modality contributions below.")
    body += figs.img(plots.modality_bars, (m[m["country"].isna() | (m["country"] == "all")],), "modality contributions")
    for name in ("rq2_treeshap", "rq2_attention"):
        if name in res.tables:
            body += f"<h3>{'TreeSHAP' if 'tree' in name else 'Attention'} share per modality, by country</h3>"
            body += _table(res.tables[name])
    return text, body


def _rq3(res, figs: _Figures) -> tuple[str, str]:
    t, w = res.tables.get("rq3_table"), res.tables.get("rq3_winners")
    if t is None or t.empty or w is None or w.empty:
        return "RQ3 was not run (it needs two or more countries).", "<p>RQ3 was not run.</p>"
    counts = w["winner"].value_counts()
    sig = int(w["significant"].sum())
    cfs = t[(t["metric"] == "cultural_fit_score") & (t["scope"] == "global")]["value"]
    text = (f"Across {len(w)} countries the winning scope is " + ", ".join(f"{k} in {v}" for k, v in counts.items())
            + f"; {sig} of these wins are significant after Benjamini-Hochberg correction (DeLong, winner vs "
            f"runner-up). The global model's median cultural-fit score is {_fmt(cfs.median(), 3)} "
            "(1 = as good as the best country-specific model).")
    if _family(res, "rq3"):
        text += f" Calibration: a country-aware scope winning significantly has a {_family(res, 'rq3')} on this data."
    align = res.tables.get("rq4_alignment")
    if align is not None and align["alignment"].notna().any():
        text += (f" Median alignment of the global model's implied sensitivities with literature expectations: "
                 f"{_fmt(align['alignment'].median(), 2)}.")
    body = _p(text) + figs.img(plots.forest, (t,), "per-country forest plot")
    winners = w.copy()
    winners.insert(winners.columns.get_loc("p_value") if "p_value" in winners else len(winners.columns), "test",
                   "DeLong, winner vs runner-up; BH across countries")
    if _family(res, "rq3"):
        winners["false_positive_rate"] = _family(res, "rq3").replace("false-positive rate ", "")
    body += "<h3>Winner per country</h3>" + _table(winners)
    body += "<h3>Per-country table</h3>" + _table(t.drop(columns=["question"]), 80)
    return text, body


def _mde_note(detectable: pd.DataFrame | None, feature: str) -> str:
    if detectable is None or detectable.empty or feature not in set(detectable["feature"]):
        return ""
    mde = float(detectable.set_index("feature").loc[feature, "mde_80"])
    return f" (MDE {_fmt(mde, 2)} log-odds per SD)" if np.isfinite(mde) else " (MDE beyond the planted range)"


def _heterogeneity_verdicts(het: pd.DataFrame, res) -> pd.DataFrame:
    """The Wald tests with their verdict, and the calibration's false-positive rate, calibrated p and MDE.

    With 20+ null replicates the verdict reads the calibrated (parametric-bootstrap) p-value; with fewer, the
    asymptotic one, flagged when the calibration shows that it rejects too often on this data."""
    from culturecart.culture.trust import MIN_NULL

    det, fpr = res.tables.get("calibration_detectable"), res.tables.get("calibration_fpr")
    cal = res.tables.get("calibration_calibrated_p")
    out = het.copy()
    out["test"] = "cluster-robust Wald, equal slopes across countries"
    calibrated = cal is not None and not cal.empty and bool((cal["null_replicates"] >= MIN_NULL).all())
    if cal is not None and not cal.empty:
        out = out.merge(cal[["feature", "p_calibrated", "null_replicates"]], on="feature", how="left")
    used = out["p_calibrated"] if calibrated else out["p_value"]
    over = ""
    if fpr is not None and "heterogeneity" in set(fpr["family"]):
        row = fpr.set_index("family").loc["heterogeneity"]
        out["false_positive_rate"] = f"{row['fpr']:.3f} ({row['ci_low']:.3f}-{row['ci_high']:.3f})"
        if not calibrated and row["ci_low"] > row["nominal"]:
            over = (f" (asymptotic p; on this data it rejects a true null {row['fpr']:.0%} of the time: run 20+ "
                    "calibration replicates for a calibrated p)")
    out["verdict"] = ["differs" + over if p < 0.05 else "inconclusive" + _mde_note(det, f)
                      for f, p in zip(out["feature"], used, strict=True)]
    out["verdict_p"] = "calibrated" if calibrated else "asymptotic"
    return out


def _recovery_sentence(rec: pd.DataFrame) -> str:
    mean = rec[rec["feature"] == "mean over features"].iloc[0]
    per = rec[rec["feature"] != "mean over features"]
    return (f" On this simulation, the order of the countries by their sensitivity to each feature is recovered with "
            f"Spearman {_fmt(mean['spearman'], 2)} (mean over {len(per)} features; 95% user-bootstrap interval "
            f"{_fmt(mean['ci_low'], 2)}-{_fmt(mean['ci_high'], 2)}); per feature: "
            + ", ".join(f"{r.feature} {_fmt(r.spearman, 2)} [{_fmt(r.ci_low, 2)}, {_fmt(r.ci_high, 2)}]"
                        for r in per.itertuples()) + ".")


def _rq4(res, figs: _Figures) -> tuple[str, str]:
    e, het, ver = (res.tables.get(k) for k in ("rq4_effects", "rq4_heterogeneity", "rq4_literature"))
    if e is None or e.empty:
        return "RQ4 was not run.", "<p>RQ4 was not run.</p>"
    n_c = e["country"].nunique()
    het = _heterogeneity_verdicts(het, res) if het is not None else None
    sig = het[het["verdict"].str.startswith("differs")]["feature"].tolist() if het is not None else []
    inconclusive = het[~het["verdict"].str.startswith("differs")]["feature"].tolist() if het is not None else []
    v = ver["verdict"].value_counts().to_dict() if ver is not None else {}
    kind = het["verdict_p"].iloc[0] if het is not None and len(het) else "asymptotic"
    text = (f"Sensitivities estimated for {n_c} countries. Features whose effect differs across countries "
            f"(Wald test, {kind} p < 0.05): {', '.join(sig) or 'none'}.")
    flagged = het[het["verdict"].str.contains("rejects a true null", regex=False)] if het is not None else []
    if len(flagged):
        text += " Caution:" + flagged["verdict"].iloc[0].removeprefix("differs") + "."
    if res.tables.get("calibration_detectable") is not None and inconclusive:
        text += " The others are inconclusive: " + "; ".join(
            f"{f}{_mde_note(res.tables['calibration_detectable'], f)}" for f in inconclusive) + "."
    text += (f" Against prior research: {v.get('agree', 0)} agree, {v.get('disagree', 0)} disagree, "
             f"{v.get('inconclusive', 0)} inconclusive (permutation tests over {n_c} countries, so wide uncertainty).")
    rec = res.tables.get("rq4_recovery")
    if rec is not None and not rec.empty:
        text += _recovery_sentence(rec)
    truth = res.truth
    if truth:
        from scipy.stats import spearmanr

        from culturecart.culture.recovery import planted_sensitivities

        planted = planted_sensitivities(truth, sorted(e["country"].unique()), [
            f for f in e["feature"].unique() if f not in ("image_index", "review_index")])
        long = planted.rename_axis("country").reset_index().melt(id_vars="country", var_name="feature",
                                                                  value_name="planted")
        both = e.merge(long, on=["country", "feature"])
        if len(both) > 3:
            rho = spearmanr(both["coef"], both["planted"]).statistic
            text += (f" Secondary, pooled over every observable feature and country (it mostly reflects whether "
                     f"the features' base effects are told apart): Spearman {rho:.2f}.")
    body = _p(text) + figs.img(plots.sensitivity_heatmap, (e,), "sensitivity heatmap")
    if rec is not None and not rec.empty:
        body += ("<h3>Within-feature recovery: estimated vs planted order of the countries</h3>"
                 "<p class='muted'>Spearman's rho across countries per feature; planted ties take their mid-rank, "
                 "so max_attainable (a tie-free estimate agreeing everywhere else) can be below 1. Intervals: "
                 "users resampled within country (one-step bootstrap); the resamples carry the estimation noise "
                 "twice, so they lean low.</p>" + _table(rec))
    sens = res.tables.get("rq4_sensitivity")
    if ver is not None and sens is not None:
        from culturecart.data.hofstede import shipped_hofstede

        body += "<h3>Hofstede dimension vs sensitivity, with the literature's expected direction</h3>"
        body += figs.img(plots.hofstede_scatter, (sens, shipped_hofstede(), ver), "Hofstede scatter")
        cols = ["feature", "dimension", "expected_sign", "evidence", "rho", "p_value", "p_adjusted", "n_countries",
                "verdict", "source", "note"]
        lit = ver[[c for c in cols if c in ver]].copy()
        lit.insert(lit.columns.get_loc("rho"), "test", "Spearman, exact permutation")
        fpr = res.tables.get("calibration_fpr")
        if fpr is not None and "literature" in set(fpr["family"]):
            row = fpr.set_index("family").loc["literature"]
            lit["false_positive_rate"] = np.where(lit["verdict"] == "not estimated", "",
                                                  f"{row['fpr']:.3f} ({row['ci_low']:.3f}-{row['ci_high']:.3f})")
        body += _table(lit)
    body += "<h3>Heterogeneity tests</h3>" + _table(het)
    body += "<h3>Coefficients and average marginal effects (cluster-robust 95% CI)</h3>" + _table(e, 80)
    if "rq4_partial_dependence" in res.tables:
        body += "<h3>Model-agnostic: partial-dependence slopes of the global model</h3>"
        body += _table(res.tables["rq4_partial_dependence"], 60)
    return text, body


def _family(res, family: str) -> str:
    fpr = res.tables.get("calibration_fpr")
    if fpr is None or family not in set(fpr["family"]):
        return ""
    r = fpr.set_index("family").loc[family]
    return f"false-positive rate {_fmt(r['fpr'], 3)} (95% CI {_fmt(r['ci_low'], 3)}-{_fmt(r['ci_high'], 3)})"


def _users_needed(feature: str, needed: float, now: float) -> str:
    if not np.isfinite(needed):
        return f"{feature} (no difference planted)"
    # The noncentrality grows with the users; below the current count that extrapolation means "already there".
    return f"{feature} already reached" if needed <= now else f"{feature} {needed:,.0f}"


def _trust(res, figs: _Figures) -> tuple[str, str]:
    fpr, settings = res.tables.get("calibration_fpr"), res.tables.get("calibration_settings")
    if fpr is None or settings is None:
        return "", ""
    st = settings.iloc[0]
    power, det = res.tables.get("calibration_power"), res.tables.get("calibration_detectable")
    rec, need = res.tables.get("calibration_recovery"), res.tables.get("calibration_users_recovery")
    text = (f"Calibration on this data's own rows: {int(st['null_replicates'])} replicates with labels redrawn "
            f"from the fitted model without country differences, {int(st['planted_replicates'])} with its "
            "differences planted at several scales, each analysed as the study does ("
            + ("RQ4's tests and RQ3's scopes on the same rows" if "rq3" in set(fpr["family"]) else "RQ4's tests")
            + "). False-positive rates: "
            + "; ".join(f"{r.family} {_fmt(r.fpr, 3)} (nominal {_fmt(r.nominal, 2)}, 95% CI to {_fmt(r.ci_high, 3)})"
                        for r in fpr.itertuples()) + ".")
    het = fpr.set_index("family").loc["heterogeneity"] if "heterogeneity" in set(fpr["family"]) else None
    if het is not None and het["ci_low"] > het["nominal"]:
        text += (f" The asymptotic heterogeneity p-values reject a true null {het['fpr']:.0%} of the time on this "
                 "data (cluster-robust errors from few users per country are too small): "
                 + ("the RQ4 verdicts use the calibrated p-values." if int(st["null_replicates"]) >= 20 else
                    "run 20 or more replicates for calibrated p-values."))
    if power is not None and not power.empty:
        one = power[(power["family"] == "heterogeneity") & (power["scale"] == 1.0)]
        if len(one):
            text += (f" If the fitted differences are real, the heterogeneity tests detect {_fmt(one['power'].iloc[0], 2)}"
                     " of them.")
    if det is not None and not det.empty:
        text += (" Minimum detectable cross-country SD of a slope at 80% power (log-odds per catalogue SD): "
                 + ", ".join(f"{r.feature} {_fmt(r.mde_80, 2)}" for r in det.itertuples()) + "; users per country "
                 "for 80% power at the fitted differences: " + ", ".join(
                     _users_needed(r.feature, r.users_per_country_80, st["users_per_country"])
                     for r in det.itertuples())
                 + f" (now {st['users_per_country']:,.0f}, the median over countries).")
    if rec is not None and not rec.empty:
        one = rec[(rec["scale"] == 1.0) & (rec["feature"] == "all")]
        if len(one):
            r = one.iloc[0]
            text += (f" At the fitted differences the countries' order within a feature is recovered with Spearman "
                     f"{_fmt(r['spearman'], 2)} (95% CI {_fmt(r['ci_low'], 2)}-{_fmt(r['ci_high'], 2)}).")
            actual = res.tables.get("rq4_recovery")
            if actual is not None and not actual.empty:
                a = actual[actual["feature"] == "mean over features"].iloc[0]
                text += (f" Against the simulation's planted truth the study recovered {_fmt(a['spearman'], 2)}.")
    text += (f" With {int(st['countries'])} countries a Hofstede correlation needs |rho| >= "
             f"{_fmt(st['rho_critical'], 3)} to be significant, however precise the estimates.")
    body = _p(text)
    if power is not None and not power.empty:
        body += figs.img(plots.power_curve, (fpr, power), "false-positive rate and power curve")
    body += "<h3>False-positive rate per test family (null replicates)</h3>" + _table(fpr)
    cal = res.tables.get("calibration_calibrated_p")
    if cal is not None and not cal.empty:
        body += ("<h3>Heterogeneity tests: asymptotic and calibrated p</h3><p class='muted'>Calibrated p = (1 + null "
                 "replicates with a Wald statistic at least the observed one) / (1 + null replicates).</p>"
                 + _table(cal))
    if power is not None and not power.empty:
        body += "<h3>Power: share of planted differences detected, per scale</h3>" + _table(power)
    if det is not None and not det.empty:
        body += ("<h3>Minimum detectable effects and users needed</h3><p class='muted'>Noncentral chi-square fit of "
                 "each feature's Wald statistics over the planted scales; MDE = cross-country SD of the slope "
                 "detected with 80% power; users per country for 80% power at the fitted differences.</p>"
                 + _table(det))
    if rec is not None and not rec.empty:
        body += "<h3>Within-feature recovery per planted scale</h3>" + _table(rec, 60)
    if need is not None and not need.empty:
        body += ("<h3>Users per country for a within-feature Spearman of 0.8 (at the fitted differences)</h3>"
                 + _table(need))
    return text, body


def _rq5(res, figs: _Figures) -> tuple[str, str]:
    s, eq = res.tables.get("rq5_curves"), res.tables.get("rq5_data_equivalent")
    if s is None or s.empty:
        return "RQ5 was not run.", "<p>RQ5 was not run.</p>"
    parts = []
    for target, g in s.groupby("target"):
        zero = g[(g["fraction"] == 0) & (g["arm"] == "culture")]["value"]
        zero_g = g[(g["fraction"] == 0) & (g["arm"] == "global")]["value"]
        full = g[(g["fraction"] == 1) & (g["arm"] == "local")]["value"]
        sentence = f"{target}: zero-shot AUC {_fmt(zero.iloc[0] if len(zero) else np.nan, 3)} (culture-conditioned)"
        sentence += f" / {_fmt(zero_g.iloc[0] if len(zero_g) else np.nan, 3)} (global)"
        sentence += f" vs {_fmt(full.iloc[0] if len(full) else np.nan, 3)} for a local model on all its data"
        if eq is not None and not eq.empty:
            w = eq[(eq["target"] == target) & (eq["fraction"] == 0) & (eq["arm"] == "global")]["local_rows_needed"]
            if len(w):
                sentence += ("; the foreign data are worth more than all its rows" if not np.isfinite(w.iloc[0])
                             else f"; the foreign data are worth about {w.iloc[0]:,.0f} target rows")
        parts.append(sentence)
    text = "Adding countries: " + "; ".join(parts) + "."
    body = _p(text) + figs.img(plots.learning_curves_plot, (s,), "learning curves")
    body += "<h3>Curves (mean over seeds, t interval)</h3>" + _table(s, 80)
    body += "<h3>Data-equivalent value of the foreign data</h3>" + _table(eq, 80)
    return text, body


def _matching(res, figs: _Figures) -> tuple[str, str]:
    f = res.tables.get("matching_ladder")
    if f is None or f.empty:
        return "", ""
    text = f"Product matching reaches mean F1 {_fmt(f['value'].iloc[-1], 3)} ({f['model'].iloc[-1]})."
    return text, _p(text) + figs.img(plots.ladder_bars, (f,), "matching F1 ladder") + _table(f)


NOT_FROM_RATINGS = {
    "rq1": "Ratings carry no text, images, behaviour logs, consumer or item attributes and no purchase labels: "
           "there are no modalities to fuse, so this data cannot answer RQ1.",
    "rq2": "Without modalities or features there is nothing to attribute a prediction to: this data cannot "
           "answer RQ2.",
    "rq4": "Feature sensitivities need item and offer features (price, discount, shipping...) beside the outcome; "
           "ratings have none, so this data cannot answer RQ4.",
}


def _cannot(key: str) -> tuple[str, str]:
    text = NOT_FROM_RATINGS[key]
    return text, _p(text)


def _rq3_markets(res, figs: _Figures) -> tuple[str, str]:
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
            f"global model's median cultural-fit score on nDCG@10 is {_fmt(cfs.median(), 3)} (1 = as good as the "
            "local model; above 1: pooling helps).")
    body = _p(text) + figs.img(plots.forest, (t, "ndcg@10"), "per-market nDCG@10 by scope")
    body += "<h3>Best scope per market (test nDCG@10)</h3>" + _table(w)
    body += "<h3>Per-market table: nDCG@10, HR@10, paired differences vs local, cultural-fit score</h3>"
    return text, body + _table(t, 120)


def _rq5_markets(res, figs: _Figures) -> tuple[str, str]:
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
                parts.append(f"{target}: zero-shot from the other markets {_fmt(zero.iloc[0])} vs "
                             f"{_fmt(full.iloc[0])} for the local model on all its data")
        body += "<h3>Learning curves over the target's training data</h3>"
        body += figs.img(plots.learning_curves_plot,
                         (curves, "test nDCG@10", "share of the target's training ratings"), "learning curves")
        body += _table(curves, 120)
    if not parts:
        return "RQ5 was not run.", "<p>RQ5 was not run.</p>"
    text = "Adding markets: " + "; ".join(parts) + "."
    if gain is not None and not gain.empty:
        body += "<h3>Gain matrix (rows: target, source added)</h3>" + _table(gain, 80)
    return text, _p(text) + body


def _methods_markets(res) -> str:
    c, r = res.config, res.config.ranking
    items = [
        f"Data: markets folder {html.escape(res.dataset_name)}, {res.n_rows:,} training ratings, markets' countries "
        f"{', '.join(res.countries)}; leave-one-out per user (valid and test lists of one held-out item and its "
        "sampled negatives).",
        f"Ranker: {r.model} {r.model_options or ''}; scopes {', '.join(r.scopes)} (culture: sources weighted by "
        "exp(-d / tau) of the Hofstede distance, tau tuned on the training data's inner hold-out).",
        f"RQ3: test nDCG@10 and HR@10 with {r.n_boot} user-bootstrap resamples; every scope vs local by the "
        "Wilcoxon signed-rank test on per-user nDCG@10 (Benjamini-Hochberg over all comparisons); cultural-fit "
        "score (nDCG - chance) / (local nDCG - chance), chance = nDCG@10 of a random order of the list.",
        f"RQ5: gain matrix (target + one source vs local, paired per user); Mantel permutation test of gain vs "
        f"Hofstede distance; learning curves at shares {r.fractions} of the target's training ratings "
        f"({r.seeds} subsample(s) each), arms {', '.join(r.arms)}; users' full histories are the ranker's input at "
        "every share (share 0 = zero-shot from the sources).",
        f"Run: {res.units_computed} unit(s) computed and {res.units_reused} reused from an earlier run, "
        f"{res.seconds:.0f} s; seed {c.seed}; parallel backend {c.parallel.backend} x {c.parallel.n_jobs}.",
    ]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def _methods(res) -> str:
    c = res.config
    items = [
        f"Data: {html.escape(res.dataset_name)}, {res.n_rows:,} events, countries {', '.join(res.countries) or 'none'}, "
        f"modalities {', '.join(res.modalities)}.",
        f"Encoders: text {c.encoders.text.name}, image {c.encoders.image.name}; embeddings reduced to "
        f"{c.embedding_dim} dimensions by PCA on the catalogue.",
        f"RQ1: split by {c.rq1.split.by} (test {c.rq1.split.test_share:.0%}, validation {c.rq1.split.valid_share:.0%}); "
        f"models {', '.join(c.rq1.models)} ({c.rq1.subsets} modality subsets) plus {', '.join(c.rq1.extra) or 'none'} "
        f"on all modalities; {c.rq1.n_boot} cluster-bootstrap resamples (users) per CI; DeLong tests against the "
        "best unimodal model.",
        "RQ2: exact modality Shapley values over LightGBM's subset AUCs, leave-one-out and add-one deltas, "
        "TreeSHAP (LightGBM pred_contrib) and CLS attention shares by country.",
        f"RQ3: {c.culture.model} in scopes {', '.join(c.rq3.scopes)}, split by {c.culture.split.by}; per-country "
        "AUC with CIs, DeLong vs global, Benjamini-Hochberg across countries, cultural-fit score "
        "CFS = (AUC(m,c) - 0.5) / (AUC(best country-specific model, c) - 0.5).",
        "RQ4: logit with country fixed effects and country x feature interactions (statsmodels, cluster-robust by "
        "user) on the rows where a purchase was possible; features standardised over the catalogue; Wald "
        "heterogeneity tests; partial-dependence slopes from the global model; Spearman correlations with "
        "Hofstede's dimensions with exact permutation p-values; verdicts against the literature table.",
        f"RQ5: target fractions {c.rq5.fractions}, arms {', '.join(c.rq5.arms)}, {c.rq5.seeds} seeds; mean with "
        "t intervals; data-equivalent value by interpolation on the local learning curve.",
    ]
    if res.tables.get("calibration_settings") is not None:
        items.append(
            f"Calibration (parametric bootstrap): the RQ4 rows kept as they are, labels redrawn {c.calibration.replicates} "
            "times from the logit without country terms (one intercept, one slope per feature) and "
            f"{c.calibration.per_scale} times per scale {c.calibration.scales} from the fitted country differences "
            "times the scale; each replicate runs the RQ4 logit, Wald and permutation tests, literature verdicts"
            + (" and RQ3's scopes on the same rows" if c.calibration.rq3 and c.rq3.enabled else "")
            + f"; tests at {c.calibration.alpha} (literature verdicts at {c.rq4.alpha}); false-positive rates with "
            "Wilson intervals at the replicate-clustered effective number of tests; MDE from a noncentral "
            "chi-square fit of the Wald statistics.")
    items += [
        f"Run: {res.units_computed} unit(s) computed and {res.units_reused} reused from an earlier run, "
        f"{res.seconds:.0f} s; seed {c.seed}; parallel backend {c.parallel.backend} x {c.parallel.n_jobs}.",
    ]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def write_report(res, path: str | Path, n_jobs: int = 1) -> Path:
    """Render the report for a finished study into ``path`` (atomically); ``n_jobs`` local processes draw the
    figures (:func:`culturecart.parallel.parallel_map`, loky: a study passes its own workers' count)."""
    path = Path(path)
    answers, bodies = {}, {}
    markets = getattr(res, "kind", "events") == "markets"
    sections = (("rq1", lambda r, f: _cannot("rq1")), ("rq2", lambda r, f: _cannot("rq2")), ("rq3", _rq3_markets),
                ("rq4", lambda r, f: _cannot("rq4")), ("rq5", _rq5_markets)) if markets else (
        ("rq1", _rq1), ("rq2", _rq2), ("rq3", _rq3), ("rq4", _rq4), ("rq5", _rq5), ("trust", _trust),
        ("matching", _matching))
    figs = _Figures()
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
    methods = _methods_markets(res) if markets else _methods(res)
    doc += [f"<section id='methods'><h2>Methods (what ran)</h2>{methods}</section>",
            "<section id='caveats'><h2>Caveats</h2><ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in caveats)
            + "</ul></section>", "</body></html>"]
    atomic_write_text(path, figs.drawn_into("\n".join(doc), n_jobs))
    return path
