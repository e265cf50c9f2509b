"""RQ1: does fusing modalities predict purchases better than any one modality?"""

from __future__ import annotations

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, fmt, table


def rq1(res, figs: Figures) -> tuple[str, str]:
    t = res.tables.get("rq1_table")
    if t is None or t.empty:
        return "RQ1 was not run.", "<p>RQ1 was not run.</p>"
    auc = t[t["metric"] == "roc_auc"].sort_values("value", ascending=False)
    best = auc.iloc[0]
    uni = auc[auc["n_modalities"] == 1]
    text = (f"The best model, {best['model']} on {best['modalities']}, reaches ROC-AUC {fmt(best['value'])} "
            f"(95% CI {fmt(best['ci_low'])}-{fmt(best['ci_high'])}) on held-out rows.")
    if not uni.empty and best["n_modalities"] > 1:
        u = uni.iloc[0]
        lift = t[(t["metric"] == "auc_lift_vs_best_unimodal") & (t["model"] == best["model"])
                 & (t["modalities"] == best["modalities"])]
        text += (f" The best single modality ({u['modalities']}, {u['model']}) reaches {fmt(u['value'])}")
        if not lift.empty:
            lf = lift.iloc[0]
            text += (f"; fusion adds {fmt(lf['value'])} AUC (95% CI {fmt(lf['ci_low'])} to {fmt(lf['ci_high'])}, "
                     f"DeLong p = {lf['p_value']:.2g}).")
    body = answer(text)
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
    body += "<h3>RQ1 table (all metrics; lift over the best unimodal model with its CI)</h3>" + table(merged, 60)
    return text, body
