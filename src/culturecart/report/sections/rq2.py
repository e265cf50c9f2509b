"""RQ2: which modalities and features drive the prediction?"""

from __future__ import annotations

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.findings import rq2_finding
from culturecart.report.format import answer, table


def rq2(res, figs: Figures) -> tuple[str, str]:
    m = res.tables.get("rq2_modalities")
    if m is None or m.empty:
        return "RQ2 was not run.", "<p>RQ2 was not run.</p>"
    finding = rq2_finding(res)
    text = finding.statement if finding else "How much each kind of data contributes, below."
    planted = (res.truth or {}).get("modality_signal_sd")
    shap = m[m["metric"] == "shapley_auc"]
    if planted and len(shap) >= 3:
        from scipy.stats import spearmanr

        common = [r.modalities for r in shap.itertuples() if r.modalities in planted]
        if len(common) >= 3:
            rho = spearmanr([shap.set_index("modalities").loc[c, "value"] for c in common],
                            [planted[c] for c in common]).statistic
            text += f" On this simulation, that order agrees with the signal planted per kind of data (rank correlation {rho:.2f})."
    body = answer(text) + ("<p>What the model leans on, not a test: each kind of data's exact Shapley share of "
                           "the model's AUC above chance (averaged over every order of adding them), and the "
                           "share of the attributions or attention each country's predictions give it.</p>")
    body += figs.img(plots.modality_bars, (m[m["country"].isna() | (m["country"] == "all")],), "modality contributions")
    for name, title in (("rq2_treeshap", "LightGBM's attributions (TreeSHAP) per kind of data, by country"),
                        ("rq2_attention", "The transformer's attention per kind of data, by country")):
        if name in res.tables:
            body += f"<h3>{title}</h3>" + table(res.tables[name], csv=f"{name}.csv")
    return text, body
