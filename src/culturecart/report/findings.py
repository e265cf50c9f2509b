"""The study's findings: at most six plain sentences, each with its number, interval and a strength label.

Every label comes from one fixed scale (:data:`STRENGTHS`), derived from the finding's test, the correction for
the number of tests in its family (Benjamini-Hochberg) and, on small designs, the calibration on the study's own
data; never from wording chosen by hand. Negative results are findings too ("did not improve: +0.000 AUC
[-0.001, +0.001]", labelled ``negligible`` when the interval rules out any difference that matters).

=========================  ===================================================================================
``clear``                  shown at the 5% level after correcting for the tests in its family (calibrated p on a
                           small design)
``likely``                 shown at the 10% level after that correction, not at the 5% level
``negligible``             not shown, and the 95% interval rules out a difference that matters (:data:`MARGINS`)
``no evidence either way`` not shown, and the interval still allows a difference that matters
``descriptive``            an estimate without a test (what the model leans on)
``not tested``             the design cannot test it (too few countries, not run)
=========================  ===================================================================================

They are written to ``findings.json`` (question, statement, strength, value, interval, unit, test, p, calibrated p,
how it was checked) and ``findings.md``, and open the report.

Example:
    >>> strength(0.003, (0.01, 0.05), 0.005), strength(0.4, (-0.001, 0.002), 0.005)
    ('clear', 'negligible')
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.report.format import fmt, fmt_interval, fmt_p, fmt_signed, fmt_value

STRENGTHS = {
    "clear": "shown at the 5% level after correcting for the number of tests in its family (on a small design, "
             "with p-values calibrated on the study's own data)",
    "likely": "shown at the 10% level after that correction, but not at the 5% level",
    "negligible": "not shown, and the 95% interval rules out a difference large enough to matter",
    "no evidence either way": "not shown, and the interval still allows a difference large enough to matter",
    "descriptive": "an estimate without a test: what the model leans on, not a claim about customers",
    "not tested": "the design cannot test it (too few countries, or the analysis was not run)",
}
POSITIVE = ("clear", "likely")  # the labels that claim a difference
# The smallest difference that matters, per unit: below it a difference is negligible for a decision.
MARGINS = {"AUC": 0.005, "nDCG@10": 0.005, "percentage points": 0.5}
MAX_FINDINGS = 6


@dataclass
class Finding:
    question: str
    statement: str
    strength: str
    value: float | None = None
    interval: tuple[float, float] | None = None
    unit: str = ""
    test: str = ""
    p: float | None = None
    p_calibrated: float | None = None
    checked: str = ""
    details: dict = field(default_factory=dict)
    p_adjusted: float | None = None  # the p the label reads: corrected for the family's tests (calibrated first)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["interval"] = list(self.interval) if self.interval is not None and all(
            math.isfinite(v) for v in self.interval) else None
        for key in ("value", "p", "p_calibrated", "p_adjusted"):
            if out[key] is not None and not math.isfinite(out[key]):
                out[key] = None
        return out


def strength(p_adjusted: float | None, interval: tuple[float, float] | None, margin: float | None) -> str:
    """The label of a tested finding from its corrected p-value and, when not shown, its interval."""
    if p_adjusted is not None and np.isfinite(p_adjusted):
        if p_adjusted < 0.05:
            return "clear"
        if p_adjusted < 0.10:
            return "likely"
    if interval is not None and margin is not None and all(np.isfinite(interval)) \
            and -margin < interval[0] and interval[1] < margin:
        return "negligible"
    return "no evidence either way"


def _row(frame: pd.DataFrame | None, **match) -> pd.Series | None:
    if frame is None or frame.empty:
        return None
    keep = np.ones(len(frame), bool)
    for k, v in match.items():
        keep &= (frame[k] == v).to_numpy()
    return frame[keep].iloc[0] if keep.any() else None


def _num(v) -> float | None:
    return float(v) if v is not None and pd.notna(v) and np.isfinite(float(v)) else None


# ---- events studies ----

def rq1_finding(res) -> Finding | None:
    t = res.tables.get("rq1_table")
    if t is None or t.empty:
        return None
    auc = t[t["metric"] == "roc_auc"].sort_values("value", ascending=False)
    uni = auc[auc["n_modalities"] == 1]
    multi = auc[auc["n_modalities"] > 1]
    if uni.empty or multi.empty:
        return Finding("RQ1", "Only one kind of data was available, so combining kinds could not be tested.",
                       "not tested")
    best, single = multi.iloc[0], uni.iloc[0]
    lift = _row(t, metric="auc_lift_vs_best_unimodal", model=best["model"], modalities=best["modalities"])
    if lift is None:
        return None
    value, iv = float(lift["value"]), (float(lift["ci_low"]), float(lift["ci_high"]))
    label = strength(_num(lift["p_adjusted"]), iv, MARGINS["AUC"])
    numbers = f"{fmt_signed(value, iv)} AUC {fmt_interval(iv, value, signed=True)}"
    others = _plain(best["modalities"].replace(single["modalities"], "").strip("+"))
    if value > 0 and label in POSITIVE:
        text = (f"Combining {_plain(best['modalities'])} predicts purchases better than the best single source "
                f"({_plain(single['modalities'])}): AUC {fmt_value(best['value'], (best['ci_low'], best['ci_high']))}"
                f" vs {fmt_value(single['value'], (single['ci_low'], single['ci_high']))}, {numbers}.")
    elif label in POSITIVE:  # the fused model is worse
        text = (f"Adding {others} to {_plain(single['modalities'])} made predictions worse: {numbers}.")
    elif label == "negligible":
        text = f"Adding {others} did not improve on {_plain(single['modalities'])} alone: {numbers}."
    else:
        text = (f"The data cannot tell whether adding {others} to {_plain(single['modalities'])} helps: "
                f"{numbers}.")
    return Finding("RQ1", text, label, value, iv, "AUC", str(lift.get("test") or "DeLong, BH over the RQ1 runs"),
                   _num(lift["p_value"]), checked="DeLong's paired test on the held-out rows, Benjamini-Hochberg "
                   "over every run of the grid", p_adjusted=_num(lift["p_adjusted"]))


def _plain(modalities: str) -> str:
    names = {"offer": "offer attributes", "consumer": "consumer attributes", "behaviour": "behaviour logs",
             "text": "text", "image": "images"}
    parts = [names.get(m, m) for m in modalities.split("+") if m]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def rq2_finding(res) -> Finding | None:
    m = res.tables.get("rq2_modalities")
    if m is None or m.empty:
        return None
    shap = m[m["metric"] == "shapley_auc"].sort_values("value", ascending=False)
    if shap.empty:
        return None
    total = float(shap["value"].sum())  # Shapley efficiency: the full model's AUC above chance
    if not total > 0:
        return None
    top = shap.iloc[0]
    rest = ", ".join(f"{_plain(r.modalities)} {r.value:+.2f}" for r in shap.iloc[1:].itertuples())
    text = (f"{_plain(top['modalities']).capitalize()} drive the prediction most: {top['value']:.2f} of the model's "
            f"{total:.2f} AUC above chance (exact Shapley values); the others: {rest}.")
    return Finding("RQ2", text, "descriptive", float(top["value"]), None, "AUC", "exact modality Shapley values "
                   "of test AUC", checked="LightGBM fitted on every subset of the kinds of data")


def rq3_finding(res) -> Finding | None:
    t = res.tables.get("rq3_table")
    if t is None or t.empty:
        return None
    delta = t[t["metric"] == "auc_delta_vs_global"].dropna(subset=["value", "ci_low", "ci_high", "p_value"])
    if delta.empty:
        return Finding("RQ3", "Too few countries had enough test rows to compare country-aware models with one "
                       "global model.", "not tested")
    n = delta["country"].nunique()
    sig = delta[(delta["p_adjusted"] < 0.10) & (delta["value"] > 0)]
    best = delta.sort_values("value", ascending=False).iloc[0]
    iv = (float(best["ci_low"]), float(best["ci_high"]))
    checked = "DeLong's paired test per country, Benjamini-Hochberg across countries and scopes"
    if not sig.empty:
        top = sig.sort_values("p_adjusted").iloc[0]
        iv = (float(top["ci_low"]), float(top["ci_high"]))
        label = strength(_num(top["p_adjusted"]), iv, MARGINS["AUC"])
        where = ", ".join(f"{r.country} ({r.scope})" for r in sig.itertuples())
        text = (f"In {sig['country'].nunique()} of {n} countries a country-aware model beats one global model: "
                f"{where}; the largest gain {fmt_signed(top['value'], iv)} AUC {fmt_interval(iv, top['value'], signed=True)} "
                f"({top['country']}).")
        return Finding("RQ3", text, label, float(top["value"]), iv, "AUC", "DeLong vs global", _num(top["p_value"]),
                       checked=checked, p_adjusted=_num(top["p_adjusted"]))
    margin = MARGINS["AUC"]
    all_small = bool(((delta["ci_low"] > -margin) & (delta["ci_high"] < margin)).all())
    label = "negligible" if all_small else "no evidence either way"
    text = (f"One global model serves every country as well as country-specific or culture-aware ones: none beats "
            f"it in any of {n} countries (the closest, {best['scope']} in {best['country']}: "
            f"{fmt_signed(best['value'], iv)} AUC {fmt_interval(iv, best['value'], signed=True)}).")
    return Finding("RQ3", text, label, float(best["value"]), iv, "AUC", "DeLong vs global", _num(best["p_value"]),
                   checked=checked, p_adjusted=_num(best["p_adjusted"]))


def heterogeneity_table(res) -> pd.DataFrame | None:
    """RQ4's heterogeneity tests with the p-value each verdict reads: the calibrated one where the study calibrated
    (a small design, or calibration asked for), the asymptotic one on a large design, none on a small design left
    uncalibrated (its false-positive rate is unknown and likely inflated); Benjamini-Hochberg over the features."""
    from culturecart.culture.trust import MIN_NULL, SMALL_DESIGN_USERS
    from culturecart.evaluate.multitest import benjamini_hochberg

    het = res.tables.get("rq4_heterogeneity")
    if het is None or het.empty:
        return het
    out = het.copy()
    cal = res.tables.get("calibration_calibrated_p")
    calibrated = cal is not None and not cal.empty and bool((cal["null_replicates"] >= MIN_NULL).all())
    if cal is not None and not cal.empty:
        out = out.merge(cal[["feature", "p_calibrated", "null_replicates"]], on="feature", how="left")
    design = res.tables.get("rq4_design")
    users = float(design["users_per_country"].iloc[0]) if design is not None and not design.empty else float("nan")
    small = users < SMALL_DESIGN_USERS
    if calibrated:
        out["p_used"], out["verdict_p"] = out["p_calibrated"], "calibrated"
    elif small:
        out["p_used"], out["verdict_p"] = np.nan, "not calibrated (small design)"
    else:
        out["p_used"], out["verdict_p"] = out["p_value"], "asymptotic"
    used = out["p_used"].to_numpy(float)
    adjusted = np.full(len(out), np.nan)
    ok = np.isfinite(used)
    if ok.any():
        adjusted[ok] = benjamini_hochberg(used[ok])
    out["p_used_adjusted"] = adjusted
    out["verdict"] = [strength(a, None, None) if np.isfinite(a) else "not tested" for a in adjusted]
    return out


def rq4_heterogeneity_finding(res) -> Finding | None:
    from culturecart.culture.trust import MIN_NULL, auto_null_replicates

    het, eff = heterogeneity_table(res), res.tables.get("rq4_effects")
    if het is None or het.empty or eff is None or eff.empty:
        note = next((n for n in res.notes if n.startswith("RQ4 logit not estimated")), None)
        return Finding("RQ4", "Whether countries react differently to offer features could not be tested: "
                       + (note.split(": ", 1)[1] if note else "the analysis did not run") + ".", "not tested")
    used = het["p_used_adjusted"]
    how = het["verdict_p"].iloc[0]
    checked = _checked(res, how)
    if how.startswith("not calibrated"):
        design = res.tables["rq4_design"].iloc[0]
        cal = res.tables.get("calibration_calibrated_p")
        ran = int(cal["null_replicates"].min()) if cal is not None and not cal.empty else 0
        why = (f"calibration ran only {ran} simulations, fewer than the {MIN_NULL} calibrated p-values need (for "
               f"{len(het)} tests: culturecart calibrate --replicates {auto_null_replicates(len(het))})" if ran else
               "calibration was turned off (set calibration: auto)")
        return Finding("RQ4", f"Whether customers in different countries react differently to offer features is not "
                              f"stated: with a median of {design['users_per_country']:,.0f} users per country the "
                              f"asymptotic tests reject a true null too often, and {why}.", "not tested",
                       checked=checked)
    shown = het[used < 0.10].assign(p_used=used[used < 0.10]).sort_values("p_used")
    if shown.empty:
        text = (f"No evidence that customers in different countries react differently to any of the "
                f"{len(het)} offer features tested ({', '.join(_feature(x) for x in het['feature'])}).")
        det = res.tables.get("calibration_detectable")
        if det is not None and not det.empty and np.isfinite(det["mde_80"]).any():
            # "No evidence" is only informative next to what the design could have seen.
            mde = det["mde_80"][np.isfinite(det["mde_80"])]
            text += (" This design detects, with 80% power, differences whose cross-country SD of the slope is at "
                     f"least {fmt(mde.min(), 2)} to {fmt(mde.max(), 2)} (log-odds per SD); smaller ones may exist.")
        return Finding("RQ4", text, "no evidence either way", None, None, "", "Wald test of equal slopes",
                       _num(het["p_value"].min()), _num(het["p_calibrated"].min()) if "p_calibrated" in het
                       else None, checked, p_adjusted=_num(used.min()))
    f = shown.iloc[0]
    rows = eff[eff["feature"] == f["feature"]].dropna(subset=["ame"])
    lo_c, hi_c = rows.loc[rows["ame"].idxmin()], rows.loc[rows["ame"].idxmax()]
    spread = 100 * float(hi_c["ame"] - lo_c["ame"])
    se = [(float(r["ame_ci_high"]) - float(r["ame_ci_low"])) / (2 * 1.96) for r in (lo_c, hi_c)]
    half = 196 * math.sqrt(se[0] ** 2 + se[1] ** 2)
    iv = (spread - half, spread + half)
    others = [x for x in shown["feature"].iloc[1:]]
    text = (f"Customers in different countries react differently to {_feature(f['feature'])}: one standard deviation "
            f"more changes the purchase probability by {fmt_signed(100 * lo_c['ame'])} percentage points in "
            f"{lo_c['country']} and {fmt_signed(100 * hi_c['ame'])} in {hi_c['country']} (a gap of "
            f"{fmt_value(spread, iv)} pp {fmt_interval(iv, spread)})"
            + (f"; also {', '.join(_feature(x) for x in others)}" if others else "") + ".")
    label = strength(float(f["p_used"]), None, None)
    return Finding("RQ4", text, label, spread, iv, "percentage points", "Wald test of equal slopes across countries",
                   _num(f["p_value"]), _num(f.get("p_calibrated")) if "p_calibrated" in f else None, checked,
                   {"features": list(shown["feature"])}, p_adjusted=_num(f["p_used"]))


def _feature(name: str) -> str:
    return {"price": "price", "discount_rate": "discounts", "free_shipping": "free shipping", "rating": "ratings",
            "review_count": "the number of reviews", "premium_brand": "premium brands",
            "image_index": "the product photo", "review_index": "review content"}.get(name, name.replace("_", " "))


def _checked(res, how: str) -> str:
    decision = res.tables.get("calibration_decision")
    if decision is not None and not decision.empty:
        return str(decision.iloc[0]["explanation"])
    if how == "calibrated":
        return "p-values calibrated on null replicates of this design"
    design = res.tables.get("rq4_design")
    users = f" (median {design['users_per_country'].iloc[0]:,.0f} users per country)" \
        if design is not None and not design.empty else ""
    return f"asymptotic cluster-robust Wald tests{users}; calibration was off"


def rq4_literature_finding(res) -> Finding | None:
    ver = res.tables.get("rq4_literature")
    if ver is None or ver.empty:
        return None
    tested = ver[ver["verdict"] != "not estimated"]
    if tested.empty:
        return Finding("RQ4", "None of the expectations from prior research could be tested on these countries.",
                       "not tested")
    n_c = int(tested["n_countries"].max())
    shown = tested[tested["p_adjusted"] < 0.10]
    agree = shown[shown["verdict"] == "agree"]
    disagree = shown[shown["verdict"] == "disagree"]
    label = strength(_num(tested["p_adjusted"].min()), None, None) if not shown.empty else "no evidence either way"
    text = (f"Of {len(tested)} expectations from prior research on cultural dimensions that these {n_c} countries "
            f"can test, {len(agree)} {'is' if len(agree) == 1 else 'are'} confirmed and {len(disagree)} contradicted "
            "after correcting for the number "
            "of tests; " + ("the rest are undecided" if len(shown) < len(tested) else "none is undecided")
            + f" (with {n_c} countries a correlation needs to be strong to be seen).")
    return Finding("RQ4", text, label, float(len(agree)), None, "expectations", "Spearman with the Hofstede "
                   "dimension, exact permutation p, BH", _num(tested["p_value"].min()),
                   checked="exact permutation tests over the countries, Benjamini-Hochberg over the expectations",
                   p_adjusted=_num(tested["p_adjusted"].min()))


def rq5_finding(res) -> Finding | None:
    gain = res.tables.get("rq5_gain")
    if gain is None or gain.empty:
        return None
    g = gain.sort_values("local_auc").iloc[0]  # the target with the least to start from
    iv = (float(g["ci_low"]), float(g["ci_high"]))
    label = strength(_num(g["p_adjusted"]), iv, MARGINS["AUC"])
    verb = "raises" if g["gain"] > 0 else "lowers"
    if label in ("negligible", "no evidence either way"):
        text = (f"For {g['target']}, adding the other countries' data to all of its own made no clear difference: "
                f"AUC {fmt_value(g['local_auc'], iv)} alone vs {fmt_value(g['pooled_auc'], iv)} pooled, "
                f"{fmt_signed(g['gain'], iv)} {fmt_interval(iv, g['gain'], signed=True)}.")
    else:
        text = (f"For {g['target']}, adding the other countries' data to all of its own {verb} AUC from "
                f"{fmt_value(g['local_auc'], iv)} to {fmt_value(g['pooled_auc'], iv)}: {fmt_signed(g['gain'], iv)} "
                f"{fmt_interval(iv, g['gain'], signed=True)}.")
    zero = g.get("zero_shot_auc")
    if zero is not None and pd.notna(zero):
        text = text[:-1] + f"; with none of its own data, a model of the other countries reaches " \
                           f"{fmt_value(zero, iv)}."
    return Finding("RQ5", text, label, float(g["gain"]), iv, "AUC", "paired user bootstrap, BH over targets",
                   _num(g["p_value"]), checked="the target's test users resampled (bootstrap), both models scored "
                   "on the same users", p_adjusted=_num(g["p_adjusted"]))


# ---- markets studies ----

def markets_rq3_finding(res) -> Finding | None:
    t = res.tables.get("rq3_table")
    if t is None or t.empty:
        return None
    vs = t[(t["metric"] == "ndcg@10 vs local") & (t["scope"] == "global")]
    if vs.empty:
        return None
    better = vs[(vs["p_adjusted"] < 0.10) & (vs["value"] > 0)]
    top = (better if not better.empty else vs).sort_values("value", ascending=False).iloc[0]
    iv = (float(top["ci_low"]), float(top["ci_high"]))
    label = strength(_num(top["p_adjusted"]), iv, MARGINS["nDCG@10"])
    if not better.empty:
        text = (f"Pooling every market's ratings ranks better than each market's own in {len(better)} of {len(vs)} "
                f"markets; the largest gain {fmt_signed(top['value'], iv)} nDCG@10 {fmt_interval(iv, top['value'], signed=True)} "
                f"({top['market']}).")
    else:
        text = (f"Pooling every market's ratings does not rank better than each market's own in any of {len(vs)} "
                f"markets (best: {top['market']}, {fmt_signed(top['value'], iv)} nDCG@10 "
                f"{fmt_interval(iv, top['value'], signed=True)}).")
    return Finding("RQ3", text, label, float(top["value"]), iv, "nDCG@10", "Wilcoxon signed-rank, paired users, BH",
                   _num(top["p_value"]), checked="per-user nDCG@10 of the same test users, Benjamini-Hochberg over "
                   "all comparisons", p_adjusted=_num(top["p_adjusted"]))


def markets_rq5_findings(res) -> list[Finding]:
    out = []
    gain, link = res.tables.get("rq5_gain"), res.tables.get("rq5_gain_hofstede")
    if gain is not None and not gain.empty:
        top = gain.sort_values("gain", ascending=False).iloc[0]
        iv = (float(top["ci_low"]), float(top["ci_high"]))
        helped = gain[(gain["p_adjusted"] < 0.10) & (gain["gain"] > 0)]
        label = strength(_num(top["p_adjusted"]), iv, MARGINS["nDCG@10"])
        out.append(Finding("RQ5", f"Adding one other market's ratings helps a market in {len(helped)} of "
                                  f"{len(gain)} pairs (after correction); the largest gain: {top['source']} into "
                                  f"{top['target']}, {fmt_signed(top['gain'], iv)} nDCG@10 "
                                  f"{fmt_interval(iv, top['gain'], signed=True)}.", label, float(top["gain"]), iv, "nDCG@10",
                           "Wilcoxon signed-rank, BH", _num(top["p_value"]),
                           checked="paired per-user nDCG@10, Benjamini-Hochberg over every pair",
                           p_adjusted=_num(top["p_adjusted"])))
    if link is not None and not link.empty:
        r = link.iloc[0]
        if _num(r.get("r")) is None:
            out.append(Finding("RQ5", "Whether culturally closer markets help more could not be tested: fewer than "
                                      "three markets have a country profile.", "not tested"))
        else:
            label = "clear" if r["p"] < 0.05 else "likely" if r["p"] < 0.10 else "no evidence either way"
            out.append(Finding("RQ5", f"Which market helps is {'' if label in POSITIVE else 'not '}predicted by "
                                      f"cultural distance: correlation of the gain with the Hofstede distance "
                                      f"r = {r['r']:.2f} (Mantel p {fmt_p(r['p'])}, {int(r['markets'])} markets).",
                               label, float(r["r"]), None, "correlation", "Mantel permutation test",
                               _num(r["p"]), checked=f"{int(r['permutations']):,} permutations of the market labels"))
    return out


def study_findings(res) -> list[Finding]:
    """The findings of a finished study, in the report's order (at most :data:`MAX_FINDINGS`)."""
    if getattr(res, "kind", "events") == "markets":
        found = [markets_rq3_finding(res), *markets_rq5_findings(res)]
    else:
        found = [rq1_finding(res), rq2_finding(res), rq3_finding(res), rq4_heterogeneity_finding(res),
                 rq4_literature_finding(res), rq5_finding(res)]
    return [f for f in found if f is not None][:MAX_FINDINGS]


def write_findings(findings: list[Finding], folder: Path) -> None:
    """``findings.json`` and ``findings.md`` (for slides and notebooks) into ``folder``, atomically."""
    from culturecart.atomic import atomic_write_text

    atomic_write_text(folder / "findings.json", json.dumps([f.as_dict() for f in findings], indent=1,
                                                            ensure_ascii=False, allow_nan=False))
    lines = ["# Findings", ""]
    lines += [f"{k + 1}. **{f.question}** ({f.strength}): {f.statement}" for k, f in enumerate(findings)]
    lines += ["", "Strength labels: " + "; ".join(f"*{k}*: {v}" for k, v in STRENGTHS.items()) + "."]
    atomic_write_text(folder / "findings.md", "\n".join(lines) + "\n")
