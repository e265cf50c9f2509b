"""Static figures for the report (matplotlib, Agg backend), returned as base64 PNG data URIs."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from culturecart.evaluate.metrics import reliability_curve  # noqa: E402

SCOPE_COLOURS = {"global": "#1f77b4", "local": "#d62728", "culture": "#2ca02c", "finetune": "#9467bd"}


def to_data_uri(fig: plt.Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def roc_pr_calibration(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> str:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4))
    for name, (y, p) in curves.items():
        fpr, tpr, _ = roc_curve(y, p)
        axes[0].plot(fpr, tpr, label=name, lw=1.4)
        prec, rec, _ = precision_recall_curve(y, p)
        axes[1].plot(rec, prec, lw=1.4)
        rel = reliability_curve(y, p)
        axes[2].plot(rel["mean_predicted"], rel["observed_rate"], marker="o", ms=3, lw=1.2)
    axes[0].plot([0, 1], [0, 1], ls=":", c="grey")
    axes[2].plot([0, 1], [0, 1], ls=":", c="grey")
    axes[0].set(title="ROC", xlabel="false positive rate", ylabel="true positive rate")
    axes[1].set(title="Precision-recall", xlabel="recall", ylabel="precision")
    axes[2].set(title="Calibration (reliability)", xlabel="mean predicted probability", ylabel="observed rate")
    axes[0].legend(fontsize=7, loc="lower right")
    return to_data_uri(fig)


def interval_bars(frame: pd.DataFrame, label: str, title: str, xlabel: str, ref: float | None = None,
                  limits: tuple[float, float] | None = None) -> str:
    """Horizontal bars with their intervals; ``limits``: the values the quantity can take (the axis stays inside)."""
    f = frame.sort_values("value")
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(f) + 1.2))
    y = np.arange(len(f))
    # An interval that misses its estimate (few resamples) is drawn up to the estimate, never as a negative bar.
    err = np.clip(np.vstack([f["value"] - f["ci_low"], f["ci_high"] - f["value"]]), 0, None) if "ci_low" in f \
        else None
    ax.barh(y, f["value"], xerr=err, color="#4c72b0", alpha=0.85, capsize=2)
    ax.set_yticks(y, f[label], fontsize=8)
    if ref is not None:
        ax.axvline(ref, c="grey", ls=":")
    lo = np.nanmin(f["ci_low"] if "ci_low" in f else f["value"])
    hi = np.nanmax(f["ci_high"] if "ci_high" in f else f["value"])
    if np.isfinite(lo) and np.isfinite(hi) and lo > 0.3:
        ax.set_xlim(lo - 0.02, hi + 0.01)
    if limits is not None:
        left, right = ax.get_xlim()
        ax.set_xlim(max(left, limits[0]), min(right, limits[1]))
    ax.set(title=title, xlabel=xlabel)
    return to_data_uri(fig)


def modality_bars(frame: pd.DataFrame) -> str:
    kinds = list(dict.fromkeys(frame["metric"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 3.4), squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        f = frame[frame["metric"] == kind]
        if "country" in f and f["country"].notna().any():
            f = f[f["country"] == "all"]
        ax.bar(f["modalities"], f["value"], color="#55a868")
        ax.set_title(kind.replace("_", " "), fontsize=10)
        ax.tick_params(axis="x", rotation=30, labelsize=8)
    return to_data_uri(fig)


def forest(table: pd.DataFrame, metric: str = "roc_auc", unit: str = "country") -> str:
    t = table[table["metric"] == metric]
    key = unit if unit in t else "country"
    countries = sorted(t[key].unique())
    scopes = list(dict.fromkeys(t["scope"]))
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(countries) + 1.5))
    for j, scope in enumerate(scopes):
        s = t[t["scope"] == scope].set_index(key).reindex(countries)
        y = np.arange(len(countries)) + (j - (len(scopes) - 1) / 2) * 0.16
        ax.errorbar(s["value"], y, xerr=np.clip([s["value"] - s["ci_low"], s["ci_high"] - s["value"]], 0, None),
                    fmt="o", ms=4, capsize=2, label=scope, color=SCOPE_COLOURS.get(scope))
    ax.set_yticks(np.arange(len(countries)), countries)
    label = {"roc_auc": "AUC", "ndcg@10": "nDCG@10"}.get(metric, metric)
    ax.set(title=f"{label} per {unit} and model scope (95% interval)", xlabel=f"{label} (0 to 1)")
    left, right = ax.get_xlim()
    ax.set_xlim(max(left, 0.0), min(right, 1.0))  # a share in [0, 1]: no axis beyond it
    ax.legend(fontsize=8)
    return to_data_uri(fig)


def sensitivity_heatmap(effects: pd.DataFrame) -> str:
    """Each country's average marginal effect of one SD of each feature, in percentage points of purchase
    probability (``*``: its 95% interval excludes 0)."""
    wide = 100 * effects.pivot(index="feature", columns="country", values="ame")
    low = effects.pivot(index="feature", columns="country", values="ame_ci_low")
    high = effects.pivot(index="feature", columns="country", values="ame_ci_high")
    sig = (low > 0) | (high < 0)
    fig, ax = plt.subplots(figsize=(1.0 * wide.shape[1] + 3, 0.5 * wide.shape[0] + 1.5))
    lim = float(np.nanmax(np.abs(wide.to_numpy()))) if np.isfinite(wide.to_numpy()).any() else 1.0
    im = ax.imshow(wide.to_numpy(), cmap="RdBu_r", vmin=-(lim or 1.0), vmax=lim or 1.0, aspect="auto")
    for i in range(wide.shape[0]):
        for j in range(wide.shape[1]):
            v = wide.iat[i, j]
            ax.text(j, i, "" if not np.isfinite(v) else f"{v:+.1f}{'*' if sig.iat[i, j] else ''}", ha="center",
                    va="center", fontsize=7)
    ax.set_xticks(range(wide.shape[1]), wide.columns)
    ax.set_yticks(range(wide.shape[0]), wide.index)
    fig.colorbar(im, ax=ax, label="percentage points per SD of the feature")
    ax.set_title("Effect on purchase probability per country (pp per SD; * interval excludes 0)")
    return to_data_uri(fig)


def hofstede_scatter(sensitivity: pd.DataFrame, profiles: pd.DataFrame, verdicts: pd.DataFrame) -> str:
    rows = verdicts[verdicts["verdict"] != "not estimated"].reset_index(drop=True)
    n = len(rows)
    cols = 4
    fig, axes = plt.subplots(int(np.ceil(n / cols)) or 1, cols, figsize=(3.6 * cols, 3.0 * (int(np.ceil(n / cols)) or 1)),
                             squeeze=False)
    colour = {"agree": "#2ca02c", "disagree": "#d62728", "inconclusive": "#7f7f7f"}
    for ax, r in zip(axes.ravel(), rows.itertuples(), strict=False):
        s = sensitivity.set_index("country")[r.feature] if "country" in sensitivity else sensitivity[r.feature]
        x = profiles.reindex(s.index)[r.dimension].astype(float)
        ax.scatter(x, s, c=colour.get(r.verdict, "k"))
        for c, xv, yv in zip(s.index, x, s, strict=True):
            ax.annotate(c, (xv, yv), fontsize=7)
        ax.set_title(f"{r.feature} vs {r.dimension}: {r.verdict}\nexpected {'+' if r.expected_sign > 0 else '-'}, "
                     f"rho {r.rho:.2f}, p {r.p_value:.2f}", fontsize=8, color=colour.get(r.verdict, "k"))
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    return to_data_uri(fig)


def learning_curves_plot(summary: pd.DataFrame, ylabel: str = "test AUC",
                         xlabel: str = "share of target-country training users") -> str:
    targets = sorted(summary["target"].unique())
    fig, axes = plt.subplots(1, len(targets), figsize=(5 * len(targets), 3.8), squeeze=False)
    colours = {"local": "#d62728", "global": "#1f77b4", "culture": "#2ca02c"}
    for ax, target in zip(axes[0], targets, strict=True):
        for arm, g in summary[summary["target"] == target].groupby("arm"):
            g = g.sort_values("fraction")
            ax.plot(g["fraction"], g["value"], marker="o", label=arm, color=colours.get(arm))
            ax.fill_between(g["fraction"], g["ci_low"], g["ci_high"], alpha=0.15, color=colours.get(arm))
        ax.set(title=f"target {target}", xlabel=xlabel, ylabel=f"{ylabel} (0 to 1)")
        bottom, top = ax.get_ylim()
        ax.set_ylim(max(bottom, 0.0), min(top, 1.0))
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.legend(fontsize=8)
    return to_data_uri(fig)


def ladder_bars(frame: pd.DataFrame) -> str:
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(frame) + 1.2))
    ax.barh(frame["model"], frame["value"], color="#8172b2")
    for i, v in enumerate(frame["value"]):
        ax.text(v, i, f" {v:.3f}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set(title="Product matching: mean F1 ladder (GroupKFold)", xlabel="mean F1 (0 to 1)", xlim=(0, 1.08))
    return to_data_uri(fig)


def gain_heatmap(gain: pd.DataFrame) -> str:
    """The source x target gain matrix (value and CI per cell, * BH-adjusted p < 0.05) beside gain vs distance."""
    wide = gain.pivot(index="target", columns="source", values="gain")
    names = sorted(set(wide.index) | set(wide.columns))
    wide = wide.reindex(index=[n for n in names if n in wide.index], columns=names)
    cell = gain.set_index(["target", "source"])
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(1.1 * len(names) + 9, 0.75 * len(wide) + 2.2),
                                 gridspec_kw={"width_ratios": [1.6, 1]})
    lim = float(np.nanmax(np.abs(wide.to_numpy()))) if np.isfinite(wide.to_numpy()).any() else 1.0
    im = ax.imshow(wide.to_numpy(float), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    for i, t in enumerate(wide.index):
        for j, s in enumerate(wide.columns):
            if (t, s) in cell.index:
                c = cell.loc[(t, s)]
                star = "*" if c["p_adjusted"] < 0.05 else ""
                ax.text(j, i, f"{c['gain']:+.3f}{star}\n[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]", ha="center",
                        va="center", fontsize=6.5)
    ax.set_xticks(range(len(wide.columns)), wide.columns)
    ax.set_yticks(range(len(wide.index)), wide.index)
    ax.set(xlabel="source market added", ylabel="target market",
           title="Gain in test nDCG@10 from one source (vs local; 95% CI, * BH p < 0.05)")
    fig.colorbar(im, ax=ax, fraction=0.04)
    ok = gain["hofstede_distance"].notna()
    bx.axhline(0, color="#999", lw=0.8)
    bx.errorbar(gain.loc[ok, "hofstede_distance"], gain.loc[ok, "gain"],
                yerr=np.clip([gain.loc[ok, "gain"] - gain.loc[ok, "ci_low"], gain.loc[ok, "ci_high"] - gain.loc[ok, "gain"]],
                             0, None),
                fmt="o", ms=4, alpha=0.7, capsize=2)
    bx.set(xlabel="Hofstede distance of the two countries", ylabel="gain in test nDCG@10",
           title="Gain vs cultural distance")
    fig.tight_layout()
    return to_data_uri(fig)


def power_curve(fpr: pd.DataFrame, power: pd.DataFrame, target: float = 0.8) -> str:
    """Share of tests significant per family against the planted scale: the null (0) is the false-positive rate."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    null = fpr.rename(columns={"fpr": "power"}).assign(scale=0.0)
    both = pd.concat([null[["family", "scale", "power", "ci_low", "ci_high"]],
                      power[["family", "scale", "power", "ci_low", "ci_high"]]], ignore_index=True)
    for fam, g in both.groupby("family"):
        g = g.sort_values("scale")
        ax.errorbar(g["scale"], g["power"], yerr=np.clip([g["power"] - g["ci_low"], g["ci_high"] - g["power"]], 0, None),
                    marker="o", ms=4, lw=1.4, capsize=3, label=fam)
    ax.axhline(target, c="grey", ls=":", lw=1)
    ax.axhline(0.05, c="grey", ls="--", lw=0.8)
    ax.set(xlabel="planted country differences (x the fitted ones; 0 = none)", ylabel="share significant",
           ylim=(0, 1.02), title="False-positive rate (at 0) and power")
    ax.legend(fontsize=8)
    return to_data_uri(fig)
