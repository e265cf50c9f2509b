"""How far to trust the answers: the calibration replicates (after ``culturecart calibrate``)."""

from __future__ import annotations

import numpy as np

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, fmt, fmt_interval, table


def _users_needed(feature: str, needed: float, now: float) -> str:
    if not np.isfinite(needed):
        return f"{feature} (no difference planted)"
    # The noncentrality grows with the users; below the current count that extrapolation means "already there".
    return f"{feature} already reached" if needed <= now else f"{feature} {needed:,.0f}"


def trust(res, figs: Figures) -> tuple[str, str]:
    fpr, settings = res.tables.get("calibration_fpr"), res.tables.get("calibration_settings")
    if fpr is None or settings is None:
        return "", ""
    st = settings.iloc[0]
    power, det = res.tables.get("calibration_power"), res.tables.get("calibration_detectable")
    rec, need = res.tables.get("calibration_recovery"), res.tables.get("calibration_users_recovery")
    planted = (f", {int(st['planted_replicates'])} with its differences planted at several scales"
               if int(st["planted_replicates"]) else "")
    text = (f"Calibration on this data's own rows: {int(st['null_replicates'])} replicates with labels redrawn "
            f"from the fitted model without country differences{planted}, each analysed as the study does ("
            + ("RQ4's tests and RQ3's scopes on the same rows" if "rq3" in set(fpr["family"]) else "RQ4's tests")
            + "). False-positive rates: "
            + "; ".join(f"{r.family} {fmt(r.fpr, 3)} (nominal {fmt(r.nominal, 2)}, 95% interval to "
                        f"{fmt(r.ci_high, 3)})" for r in fpr.itertuples()) + ".")
    het = fpr.set_index("family").loc["heterogeneity"] if "heterogeneity" in set(fpr["family"]) else None
    if het is not None and het["ci_low"] > het["nominal"]:
        text += (f" The asymptotic heterogeneity p-values reject a true null {het['fpr']:.0%} of the time on this "
                 "data (cluster-robust errors from few users per country are too small): "
                 + ("the RQ4 findings read the calibrated p-values." if int(st["null_replicates"]) >= 20 else
                    "run 20 or more replicates for calibrated p-values."))
    if not int(st["planted_replicates"]):
        text += (" Power and the users a country would need were not measured (they need planted replicates: "
                 "culturecart calibrate).")
    if power is not None and not power.empty:
        one = power[(power["family"] == "heterogeneity") & (power["scale"] == 1.0)]
        if len(one):
            text += (f" If the fitted differences are real, the heterogeneity tests detect {fmt(one['power'].iloc[0], 2)}"
                     " of them.")
    if det is not None and not det.empty:
        text += (" Minimum detectable cross-country SD of a slope at 80% power (log-odds per catalogue SD): "
                 + ", ".join(f"{r.feature} {fmt(r.mde_80, 2)}" for r in det.itertuples()) + "; users per country "
                 "for 80% power at the fitted differences: " + ", ".join(
                     _users_needed(r.feature, r.users_per_country_80, st["users_per_country"])
                     for r in det.itertuples())
                 + f" (now {st['users_per_country']:,.0f}, the median over countries).")
    if rec is not None and not rec.empty:
        one = rec[(rec["scale"] == 1.0) & (rec["feature"] == "all")]
        if len(one):
            r = one.iloc[0]
            text += (f" At the fitted differences the countries' order within a feature is recovered with Spearman "
                     f"{fmt(r['spearman'], 2)} {fmt_interval((r['ci_low'], r['ci_high']))}.")
            actual = res.tables.get("rq4_recovery")
            if actual is not None and not actual.empty:
                a = actual[actual["feature"] == "mean over features"].iloc[0]
                text += (f" Against the simulation's planted truth the study recovered {fmt(a['spearman'], 2)}.")
    text += (f" With {int(st['countries'])} countries a Hofstede correlation needs |rho| >= "
             f"{fmt(st['rho_critical'], 3)} to be significant, however precise the estimates.")
    body = answer(text)
    if power is not None and not power.empty:
        body += figs.img(plots.power_curve, (fpr, power), "false-positive rate and power curve")
    body += "<h3>False-positive rate per test family (null replicates)</h3>" + table(fpr, csv="calibration_fpr.csv")
    cal = res.tables.get("calibration_calibrated_p")
    if cal is not None and not cal.empty:
        body += ("<h3>Heterogeneity tests: asymptotic and calibrated p</h3><p class='muted'>Calibrated p = (1 + null "
                 "replicates with a Wald statistic at least the observed one) / (1 + null replicates).</p>"
                 + table(cal, csv="calibration_calibrated_p.csv"))
    if power is not None and not power.empty:
        body += "<h3>Power: share of planted differences detected, per scale</h3>" + table(power, csv="calibration_power.csv")
    if det is not None and not det.empty:
        body += ("<h3>Minimum detectable effects and users needed</h3><p class='muted'>Noncentral chi-square fit of "
                 "each feature's Wald statistics over the planted scales; MDE = cross-country SD of the slope "
                 "detected with 80% power; users per country for 80% power at the fitted differences.</p>"
                 + table(det, csv="calibration_detectable.csv"))
    if rec is not None and not rec.empty:
        body += "<h3>Within-feature recovery per planted scale</h3>" + table(rec, csv="calibration_recovery.csv")
    if need is not None and not need.empty:
        body += ("<h3>Users per country for a within-feature Spearman of 0.8 (at the fitted differences)</h3>"
                 + table(need, csv="calibration_users_recovery.csv"))
    return text, body
