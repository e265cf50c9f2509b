"""The study's stages (RQ1-RQ5, matching) as generators of units over one shared :class:`StageContext`.

See :mod:`culturecart.study.scheduling` for how they run together and :mod:`culturecart.study.units` for what
their units compute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from culturecart.culture.hofstede_link import alignment_scores, hofstede_correlations, literature_verdicts
from culturecart.culture.recovery import planted_sensitivities, within_feature_recovery
from culturecart.culture.sensitivity import SensitivityResult, design_users_per_country, sensitivity_matrix
from culturecart.culture.transfer import (
    plan_transfer,
    pooled_gains,
    summarise_transfer,
    transfer_tasks,
    user_intervals,
)
from culturecart.data.dataset import Dataset
from culturecart.evaluate.grid import grid_jobs
from culturecart.evaluate.metrics import get_metric_spec
from culturecart.evaluate.multitest import benjamini_hochberg
from culturecart.evaluate.splits import Split, make_split
from culturecart.explain.modality import add_one, leave_one_out, modality_shapley
from culturecart.models.configs import NeuralConfig, TransformerConfig
from culturecart.models.features import ModalityData
from culturecart.models.registry import model_spec
from culturecart.study.keys import file_key
from culturecart.study.scheduling import TIDY_COLUMNS, Stage, StageContext, tidy
from culturecart.study.store import Unit, folder_files
from culturecart.study.units import (
    explain_unit,
    fit_unit,
    from_records,
    pd_unit,
    rq1_unit,
    rq4_unit,
    score_rq3,
    score_table,
)


def _fit_cost(model: str, subset: tuple[str, ...], options: dict) -> float:
    """Rough relative compute of one fit, so that the longest units start first (a scheduling hint only)."""
    spec = model_spec(model)
    if spec.config is TransformerConfig:
        return 10.0 * options.get("epochs", TransformerConfig().epochs)
    if issubclass(spec.config, NeuralConfig):
        return 0.4 * options.get("epochs", spec.config().epochs) * max(len(subset) / 2, 1)
    return 0.5 + 0.5 * len(subset)


def rq1(ctx: StageContext) -> Stage:
    cfg, data, base, store, res, publish, say = ctx.cfg, ctx.data, ctx.base, ctx.store, ctx.res, ctx.publish, ctx.say
    c = cfg.rq1
    split = make_split(data, by=c.split.by, test_share=c.split.test_share, valid_share=c.split.valid_share,
                       seed=cfg.seed)
    full = tuple(data.modalities)
    jobs = grid_jobs(data, c.models, "all" if c.subsets == "all" else [full], [(m, full) for m in c.extra])
    units = []
    for name, subset in jobs:
        options = c.model_options.get(name, {})
        keep = subset == full
        units.append(Unit("rq1", f"{name}[{'+'.join(subset)}]",
                          {**base, "split": c.split.model_dump(), "model": name, "subset": subset,
                           "options": options},
                          rq1_unit, (name, subset, data, split, cfg.seed, options, keep), artifact=keep,
                          cost=_fit_cost(name, subset, options)))
    say(f"RQ1: {len(units)} model x modality runs")
    preds = yield units
    for (name, subset), unit in zip(jobs, units, strict=True):
        if unit.artifact:
            publish(f"rq1-{name}", store.artifact(unit), name, list(subset), "global",
                    c.model_options.get(name, {}), unit.key)
    predictions = {job: p for job, p in zip(jobs, preds, strict=True)}
    test = data.rows(split.test)
    [table] = yield [Unit("rq1", "score", {"runs": [u.key for u in units], "metrics": c.metrics,
                                           "n_boot": c.n_boot},
                          score_table, (predictions, test, c.metrics, c.n_boot, cfg.seed), cost=5.0)]
    res.tables["rq1_table"] = table
    auc = table[table["metric"] == "roc_auc"].sort_values("value", ascending=False)
    for _, row in auc.head(4).iterrows():
        key = (row["model"], tuple(row["modalities"].split("+")))
        res.curves[f"{row['model']} [{row['modalities']}]"] = (test.y, predictions[key])
    uni = auc[auc["n_modalities"] == 1]
    if not uni.empty:
        best = uni.iloc[0]
        res.curves.setdefault(f"{best['model']} [{best['modalities']}] (best unimodal)",
                              (test.y, predictions[(best["model"], (best["modalities"],))]))
    res.tables["rq1_split"] = pd.DataFrame([{"by": c.split.by, "train": len(split.train), "valid": len(split.valid),
                                             "test": len(split.test)}])
    say(f"RQ1: best AUC {auc.iloc[0]['value']:.4f} ({auc.iloc[0]['model']} [{auc.iloc[0]['modalities']}])")
    return tidy(table, scope="global")


def rq2(ctx: StageContext) -> Stage:
    cfg, data, base, res, publish = ctx.cfg, ctx.data, ctx.base, ctx.res, ctx.publish
    yield []  # RQ1 publishes its models in the next round
    split = make_split(data, by=cfg.rq1.split.by, test_share=cfg.rq1.split.test_share,
                       valid_share=cfg.rq1.split.valid_share, seed=cfg.seed)
    test = data.rows(split.test)
    units = []
    for kind, model in (("treeshap", "lightgbm"), ("attention", "transformer")):
        made = publish.made.get(f"rq1-{model}")  # the model of this run's RQ1 unit, never an older folder
        if made is not None:
            unit_key, folder = made
            units.append(Unit("rq2", kind, {**base, "model_unit": unit_key, "split": cfg.rq1.split.model_dump()},
                              explain_unit, (kind, folder_files(folder), test),
                              cost=4.0 if kind == "treeshap" else 1.0))  # TreeSHAP of every test row: 5 s on the twin
    explained = yield units
    table = res.tables.get("rq1_table")  # RQ1 has finished: its scoring ran in the same round as these units
    if table is None:
        return None
    rows = []
    mods = tuple(data.modalities)
    lgbm = table[(table["model"] == "lightgbm") & (table["metric"] == "roc_auc")]
    values = {frozenset(m.split("+")): v for m, v in zip(lgbm["modalities"], lgbm["value"], strict=True)}
    if len(values) == 2 ** len(mods) - 1:
        for kind, numbers in (("shapley_auc", modality_shapley(values, mods)),
                              ("leave_one_out_auc", leave_one_out(values, mods))):
            rows += [{"model": "lightgbm", "modalities": m, "metric": kind, "value": v} for m, v in numbers.items()]
        tabular = [m for m in ("offer", "consumer", "behaviour") if m in mods]
        if tabular:
            rows += [{"model": "lightgbm", "modalities": m, "metric": "add_one_auc", "value": v,
                      "test": f"added to {'+'.join(tabular)}"} for m, v in add_one(values, mods, tabular).items()]
    else:
        res.notes.append("Modality Shapley values need LightGBM on every modality subset (rq1.subsets: all).")
    for unit, shares in zip(units, explained, strict=True):
        res.tables[f"rq2_{unit.name}"] = shares
        long = shares.melt(id_vars="country", var_name="modalities", value_name="value")
        rows += [{"model": "lightgbm" if unit.name == "treeshap" else "transformer", "country": r.country,
                  "modalities": r.modalities, "metric": f"{unit.name}_share", "value": r.value}
                 for r in long.itertuples()]
    frame = pd.DataFrame(rows)
    res.tables["rq2_modalities"] = frame
    return tidy(frame, question="RQ2")


def enough_countries(data: ModalityData, split: Split, min_rows: int) -> list[str]:
    """Countries with at least ``min_rows`` test rows and enough of each class among them
    (:func:`culturecart.culture.rq3.comparable_countries`)."""
    from culturecart.culture.rq3 import comparable_countries

    return comparable_countries(data.meta["country"].astype(object).to_numpy()[split.test], data.y[split.test],
                                min_rows)


def rq3(ctx: StageContext) -> Stage:
    cfg, data, split, profiles, base = ctx.cfg, ctx.data, ctx.split, ctx.profiles, ctx.base
    store, res, publish, say = ctx.store, ctx.res, ctx.publish, ctx.say
    c, cc = cfg.rq3, cfg.culture
    units = [fit_unit("rq3", scope, scope, cc.model, data, split.train, split.valid, split.test, profiles, cfg.seed,
                      cc.model_options, base, cost=3.0 if scope in ("finetune", "local") else 2.0)
             for scope in c.scopes]
    say(f"RQ3: {len(units)} scopes of {cc.model}")
    preds = dict(zip(c.scopes, (yield units), strict=True))
    for scope, unit in zip(c.scopes, units, strict=True):
        publish(f"rq3-{scope}", store.artifact(unit), cc.model, None, scope, cc.model_options, unit.key)
    keep = enough_countries(data, split, c.min_test_rows)
    rows = split.test[np.isin(data.meta["country"].astype(object).to_numpy()[split.test], keep)]
    pos = np.flatnonzero(np.isin(split.test, rows))
    test = data.rows(rows)
    [scored] = yield [Unit("rq3", "score", {"runs": [u.key for u in units], "metrics": c.metrics,
                                            "n_boot": c.n_boot, "countries": keep},
                           score_rq3, ({s: p[pos] for s, p in preds.items()}, test, cc.model, c, cfg.seed),
                           cost=2.5)]
    table, winners = from_records(scored["table"]), from_records(scored["winners"])
    res.tables["rq3_table"], res.tables["rq3_winners"] = table, winners
    if not winners.empty:
        counts = winners["winner"].value_counts()
        say("RQ3: best scope per country: " + ", ".join(f"{k} in {v}" for k, v in counts.items())
            + f"; {int(winners['significant'].sum())} better than global after correction")
    return tidy(table)


def rq4_rows(cfg, ds: Dataset) -> str:
    """The RQ4 estimation rows: ``rq4.rows``, where ``auto`` means the clicked impressions when the data has
    clicks with both outcomes among them (P(buy | click)), else every row."""
    if cfg.rq4.rows != "auto":
        return cfg.rq4.rows
    ev = ds.events
    clicked = ev["clicked"].fillna(0).astype(float) > 0 if "clicked" in ev else None
    return "clicked" if clicked is not None and clicked.sum() > 0 and ev.loc[clicked, "purchased"].nunique() == 2 \
        else "all"


def rq4(ctx: StageContext) -> Stage:
    cfg, ds, emb, data, split, profiles = ctx.cfg, ctx.ds, ctx.emb, ctx.data, ctx.split, ctx.profiles
    base, res, publish, say = ctx.base, ctx.res, ctx.publish, ctx.say
    c = cfg.rq4
    rows = rq4_rows(cfg, ds)
    parts = []
    res.tables["rq4_design"] = pd.DataFrame([{"rows": rows, "users_per_country": design_users_per_country(
        ds, rows, c.min_rows)}])
    [logit] = yield [Unit("rq4", "logit", {**base, "rows": rows, "features": c.features, "min_rows": c.min_rows,
                                           "bootstrap": c.n_boot},
                          rq4_unit, (ds, emb, rows, c.features, c.min_rows, cfg.seed, c.n_boot), cost=1.0)]
    if "error" in logit:
        res.notes.append(f"RQ4 logit not estimated: {logit['error']}")
    else:
        result = SensitivityResult(from_records(logit["effects"]), from_records(logit["heterogeneity"]),
                                   pd.Series(logit["intercepts"]), logit["countries"])
        res.notes += [f"RQ4: {w}" for w in logit["warnings"]]
        sens = sensitivity_matrix(result)
        corr = hofstede_correlations(sens, profiles, seed=cfg.seed)
        verdicts = literature_verdicts(corr, alpha=c.alpha)
        result.heterogeneity["p_adjusted"] = benjamini_hochberg(result.heterogeneity["p_value"])
        corr["p_adjusted"] = benjamini_hochberg(corr["p_value"])
        verdicts["p_adjusted"] = benjamini_hochberg(verdicts["p_value"])
        res.tables.update(rq4_effects=result.effects, rq4_heterogeneity=result.heterogeneity,
                          rq4_hofstede=corr, rq4_literature=verdicts,
                          rq4_sensitivity=sens.rename_axis("country").reset_index())
        if res.truth and logit.get("bootstrap"):
            planted = planted_sensitivities(res.truth, result.countries, result.effects["feature"].unique())
            recovered = within_feature_recovery(result.effects, pd.DataFrame(logit["bootstrap"]), planted)
            res.tables["rq4_recovery"] = recovered
            parts.append(tidy(recovered.rename(columns={"spearman": "value"}).assign(
                metric="within_feature_spearman_vs_planted", test="user bootstrap (one-step), percentile"),
                question="RQ4", model="logit"))
        e = result.effects
        parts += [tidy(e.rename(columns={"coef": "value"}).assign(metric="logit_coef", test="cluster-robust Wald"),
                       question="RQ4", model="logit"),
                 tidy(e[["country", "feature", "ame", "ame_ci_low", "ame_ci_high"]].rename(
                     columns={"ame": "value", "ame_ci_low": "ci_low", "ame_ci_high": "ci_high"}).assign(
                     metric="average_marginal_effect"), question="RQ4", model="logit"),
                 tidy(result.heterogeneity.rename(columns={"wald_chi2": "value"}).assign(
                     metric="heterogeneity_wald_chi2", test="Wald: equal across countries"), question="RQ4",
                     model="logit"),
                 tidy(corr.rename(columns={"rho": "value"}).assign(metric="spearman_rho_hofstede",
                                                                    test="permutation"), question="RQ4")]
        say(f"RQ4: {len(result.countries)} countries x {len(result.heterogeneity)} features estimated (the findings "
            "read their tests, calibrated where the design is small)")
    made = publish.made.get("rq3-global")  # this run's global-scope model (RQ3 published it this round)
    if made is not None:
        unit_key, folder = made
        test = data.rows(split.test)
        [pd_table] = yield [Unit("rq4", "partial_dependence",
                                 {**base, "model_unit": unit_key, "split": cfg.culture.split.model_dump()},
                                 pd_unit, (folder_files(folder), test, cfg.rq3.n_boot, cfg.seed), cost=1.0)]
        if not pd_table.empty:
            res.tables["rq4_partial_dependence"] = pd_table
            implied = pd_table.pivot(index="country", columns="feature", values="pd_slope")
            align = alignment_scores(implied, profiles).rename_axis("country").reset_index()
            res.tables["rq4_alignment"] = align
            parts += [tidy(pd_table.rename(columns={"pd_slope": "value"}).assign(metric="pd_slope"),
                           question="RQ4", model=cfg.culture.model, scope="global"),
                     tidy(align.rename(columns={"alignment": "value"}).assign(metric="alignment_score"),
                           question="RQ3", model=cfg.culture.model, scope="global")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=TIDY_COLUMNS)


def rq5(ctx: StageContext) -> Stage:
    cfg, data, split, profiles, base, res, say = ctx.cfg, ctx.data, ctx.split, ctx.profiles, ctx.base, ctx.res, ctx.say
    c, cc = cfg.rq5, cfg.culture
    if c.targets == "auto":
        enough = enough_countries(data, split, cfg.rq3.min_test_rows)
        counts = data.meta["country"].value_counts()
        targets = sorted(enough, key=lambda k: (counts[k], k))[:c.n_auto_targets]
    else:
        targets = list(c.targets)
    if not targets:
        res.notes.append("RQ5 skipped: no country has enough test rows.")
        return None
    tasks = transfer_tasks(data, targets, fractions=c.fractions, arms=c.arms, seeds=range(c.seeds),
                           sources=c.sources)
    runs = plan_transfer(data, split, tasks)
    fits = [r for r in runs if r.fittable]
    units = [fit_unit("rq5", f"{r.record['target']}-{r.record['arm']}-{r.record['fraction']}-{r.record['seed']}",
                      r.scope, cc.model, data, r.train, r.valid, split.test, profiles, r.record["seed"],
                      cc.model_options, base, cost=0.5 if r.record["arm"] == "local" else 1.5,
                      pool=r.pool) for r in fits]
    say(f"RQ5: {len(units)} learning-curve fits for {', '.join(targets)}")
    scored = yield units
    auc = get_metric_spec("roc_auc").fn
    points, labels, users = {}, {}, {}
    for r, p in zip(fits, scored, strict=True):  # each fit scored the whole test split: keep the target's rows
        mine = p[np.searchsorted(split.test, r.test)]
        r.record["roc_auc"] = auc(data.y[r.test], mine, None)
        key = (r.record["target"], r.record["arm"], r.record["fraction"])
        points.setdefault(key, []).append(mine)
        labels[key], users[key] = data.y[r.test], data.meta["user_id"].to_numpy()[r.test]
    runs = pd.DataFrame([{k: v for k, v in r.record.items() if k != "fittable"} for r in runs])
    intervals = user_intervals(points, labels, users, n_boot=c.n_boot, seed=cfg.seed)
    curves = summarise_transfer(runs, targets, c.arms, intervals)
    gains = pooled_gains(points, labels, users, n_boot=c.n_boot, seed=cfg.seed)
    res.tables.update(rq5_runs=runs, rq5_curves=curves.summary, rq5_data_equivalent=curves.data_equivalent,
                      rq5_gain=gains)
    s = curves.summary.rename(columns={"target": "country", "arm": "scope"})
    parts = [tidy(s.assign(metric="roc_auc", test="mean over seeds, user-bootstrap interval"), question="RQ5",
                  model=cc.model)]
    if not gains.empty:
        parts.append(tidy(gains.rename(columns={"target": "country", "gain": "value"}).assign(
            metric="auc_gain_pooled_vs_local", scope="global", fraction=1.0,
            test="paired user bootstrap, BH over targets"), question="RQ5", model=cc.model))
    return pd.concat(parts, ignore_index=True)


def matching(ctx: StageContext) -> Stage:
    cfg, ds, base, res, say, cache = ctx.cfg, ctx.ds, ctx.base, ctx.res, ctx.say, ctx.cache
    from culturecart.matching.config import MatchingConfig
    from culturecart.matching.ladder import combine_folds, ladder_fold, ladder_folds

    path = Path(cfg.matching.input) if cfg.matching.input else ds.resolve(ds.meta.get("matching_file"))
    if path is None or not Path(path).exists():
        res.notes.append("Matching skipped: no Shopee-format file (matching.input) and none in the dataset.")
        return None
    images = ds.resolve(ds.meta.get("image_dir")) if not cfg.matching.input else None
    # By content, not by name; a file of the user's own reads nothing of the dataset, so its key holds no data key.
    payload = {**({k: v for k, v in base.items() if k != "data"} if cfg.matching.input else base),
               "input": file_key(path), "folds": cfg.matching.folds}
    folds = yield [Unit("matching", f"fold {f + 1}", {**payload, "fold": f}, ladder_fold,
                        (str(path), str(images) if images else None, f, cfg.matching.folds, cfg.seed,
                         cfg.encoders.text.name, MatchingConfig().inner_folds, cache), cost=8.0)
                   for f in range(ladder_folds(str(path), cfg.matching.folds))]
    frame = pd.DataFrame(combine_folds(folds))
    res.tables["matching_ladder"] = frame
    say(f"matching: final mean F1 {frame['value'].iloc[-1]:.4f}")
    return tidy(frame.assign(metric="mean_f1"), question="M")
