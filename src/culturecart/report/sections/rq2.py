"""RQ2: which modalities and features drive the prediction?"""

from __future__ import annotations

from culturecart.report import plots
from culturecart.report.figures import Figures
from culturecart.report.format import answer, table


def rq2(res, figs: Figures) -> tuple[str, str]:
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
    body = answer(text or "Modality contributions below.")
    body += figs.img(plots.modality_bars, (m[m["country"].isna() | (m["country"] == "all")],), "modality contributions")
    for name in ("rq2_treeshap", "rq2_attention"):
        if name in res.tables:
            body += f"<h3>{'TreeSHAP' if 'tree' in name else 'Attention'} share per modality, by country</h3>"
            body += table(res.tables[name])
    return text, body
