"""RQ4: which features is each culture sensitive to, and does it match prior research?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, fmt, table


def _mde_note(detectable: pd.DataFrame | None, feature: str) -> str:
    if detectable is None or detectable.empty or feature not in set(detectable["feature"]):
        return ""
    mde = float(detectable.set_index("feature").loc[feature, "mde_80"])
    return f" (MDE {fmt(mde, 2)} log-odds per SD)" if np.isfinite(mde) else " (MDE beyond the planted range)"


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
            f"Spearman {fmt(mean['spearman'], 2)} (mean over {len(per)} features; 95% user-bootstrap interval "
            f"{fmt(mean['ci_low'], 2)}-{fmt(mean['ci_high'], 2)}); per feature: "
            + ", ".join(f"{r.feature} {fmt(r.spearman, 2)} [{fmt(r.ci_low, 2)}, {fmt(r.ci_high, 2)}]"
                        for r in per.itertuples()) + ".")


def rq4(res, figs: Figures) -> tuple[str, str]:
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
    body = answer(text) + figs.img(plots.sensitivity_heatmap, (e,), "sensitivity heatmap")
    if rec is not None and not rec.empty:
        body += ("<h3>Within-feature recovery: estimated vs planted order of the countries</h3>"
                 "<p class='muted'>Spearman's rho across countries per feature; planted ties take their mid-rank, "
                 "so max_attainable (a tie-free estimate agreeing everywhere else) can be below 1. Intervals: "
                 "users resampled within country (one-step bootstrap); the resamples carry the estimation noise "
                 "twice, so they lean low.</p>" + table(rec))
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
        body += table(lit)
    body += "<h3>Heterogeneity tests</h3>" + table(het)
    body += "<h3>Coefficients and average marginal effects (cluster-robust 95% CI)</h3>" + table(e, 80)
    if "rq4_partial_dependence" in res.tables:
        body += "<h3>Model-agnostic: partial-dependence slopes of the global model</h3>"
        body += table(res.tables["rq4_partial_dependence"], 60)
    return text, body
