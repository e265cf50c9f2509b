"""The calibration stage: replicates of the study's own design through the unit store, summarised for the report.

Units: the RQ4 design (once), the null and fitted generative models (once), then one unit per replicate
(``calibration.replicates`` null ones and ``calibration.planted_replicates`` per planted scale), each keyed
by its scale and number, so an interrupted calibration resumes and more replicates add to the ones stored.
See :mod:`culturecart.culture.calibration` for what a replicate is and :mod:`culturecart.culture.trust`
for the summaries.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from culturecart.culture import trust
from culturecart.culture.calibration import (
    Generative,
    RQ3Inputs,
    analyse_replicate,
    design_frame,
    design_of,
    estimable,
    fit_generative,
)
from culturecart.culture.sensitivity import country_logit, design_users_per_country, sensitivity_design
from culturecart.study.scheduling import Stage, StageContext, tidy
from culturecart.study.stages import rq4_rows
from culturecart.study.store import Unit


def _design_unit(ds, emb, rows: str, features, seed: int) -> pd.DataFrame | dict:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the RQ4 stage reports filled values once
        try:
            return design_frame(sensitivity_design(ds, emb, rows=rows, features=features, seed=seed))
        except (ValueError, KeyError) as err:  # no items table, no estimation rows, unknown features
            return {"error": str(err).strip("'\"")}


def _generative_unit(frame: pd.DataFrame, min_rows: int) -> dict:
    """The generative models and the study's own heterogeneity tests (to calibrate their p-values)."""
    from threadpoolctl import threadpool_limits

    design = design_of(frame)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the RQ4 stage reports the countries left out
        try:
            fitted = country_logit(design, min_rows=min_rows)
            gen = fit_generative(design, min_rows=min_rows, fitted=fitted)
        except ValueError as err:
            return {"error": str(err)}
    return {"model": gen.to_dict(), "observed": fitted.heterogeneity.to_dict("list")}


def _replicate_unit(design, gen: Generative, scale: float, replicate: int, profiles, alpha: float,
                    literature_alpha: float, min_rows: int, seed: int, rq3: RQ3Inputs | None) -> dict:
    return analyse_replicate(design, gen, scale, replicate, profiles=profiles, alpha=alpha,
                             literature_alpha=literature_alpha, min_rows=min_rows, seed=seed, rq3=rq3)


def _rq3_inputs(cfg, data, split, design, profiles) -> RQ3Inputs:
    rows = design.rows
    return RQ3Inputs(data.rows(rows).compact(), np.flatnonzero(np.isin(rows, split.train)),
                     np.flatnonzero(np.isin(rows, split.valid)), np.flatnonzero(np.isin(rows, split.test)),
                     tuple(cfg.rq3.scopes), cfg.culture.model, dict(cfg.culture.model_options), profiles,
                     cfg.rq3.min_test_rows)


def calibration(ctx: StageContext) -> Stage:
    cfg, ds, emb, data, split, profiles = ctx.cfg, ctx.ds, ctx.emb, ctx.data, ctx.split, ctx.profiles
    base, res, say = ctx.base, ctx.res, ctx.say
    c, c4 = cfg.calibration, cfg.rq4
    rows = rq4_rows(cfg, ds)
    users = design_users_per_country(ds, rows, c4.min_rows)
    if c.auto and not users < trust.SMALL_DESIGN_USERS:
        res.tables["calibration_decision"] = pd.DataFrame([{
            "mode": "asymptotic", "users_per_country": users, "threshold": trust.SMALL_DESIGN_USERS,
            "replicates": 0, "seconds": 0.0,
            "explanation": f"asymptotic tests: a large design (median {users:,.0f} users per country, at least "
                           f"{trust.SMALL_DESIGN_USERS}, where cluster-robust Wald tests hold their level; "
                           "calibration: auto)"}])
        return None
    key = {**base, "rows": rows, "features": c4.features, "min_rows": c4.min_rows}
    [frame] = yield [Unit("calibration", "design", key, _design_unit, (ds, emb, rows, c4.features, cfg.seed),
                          cost=1.0)]
    if isinstance(frame, dict):
        res.notes.append(f"Calibration not run: the RQ4 design cannot be built ({frame['error']}).")
        return None
    [fitted] = yield [Unit("calibration", "generative", {**key, "returns": ["model", "observed"]}, _generative_unit,
                           (frame, c4.min_rows), cost=1.0)]
    if "error" in fitted:
        res.notes.append(f"Calibration not run: the RQ4 logit cannot be fitted ({fitted['error']}).")
        return None
    gen = Generative.from_dict(fitted["model"])
    design = estimable(design_of(frame), gen.countries)
    n_null = trust.auto_null_replicates(len(gen.features)) if c.auto else c.replicates
    rq3 = _rq3_inputs(cfg, data, split, design, profiles) if c.rq3 and cfg.rq3.enabled and not c.auto else None
    settings = {**key, "alpha": c.alpha, "literature_alpha": c4.alpha, "profiles": profiles.to_dict(),
                "rq3": None if rq3 is None else {"scopes": cfg.rq3.scopes, "model": cfg.culture.model,
                                                 "options": cfg.culture.model_options,
                                                 "split": cfg.culture.split.model_dump(),
                                                 "min_test_rows": cfg.rq3.min_test_rows}}
    plan = [(0.0, r) for r in range(n_null)] + [(s, r) for s in c.scales for r in range(c.per_scale)]
    units = [Unit("calibration", f"scale {s:g} #{r + 1}", {**settings, "scale": s, "replicate": r},
                  _replicate_unit, (design, gen, s, r, profiles, c.alpha, c4.alpha, c4.min_rows, cfg.seed, rq3),
                  cost=0.5 if rq3 is None else 1.0) for s, r in plan]
    say(f"calibration: {n_null} null replicates" + (f" and {c.per_scale} per planted scale "
                                                      f"{', '.join(f'{x:g}' for x in c.scales)}" if c.per_scale else
                                                      f" (a small design: median {users:,.0f} users per country)"))
    logged = len(ctx.store.log)
    replicates = yield units
    seconds = sum(u["seconds"] for u in ctx.store.log[logged:] if u["stage"] == "calibration")
    failed = [r for r in replicates if r.get("error")]
    if failed:
        res.notes.append(f"Calibration: {len(failed)} of {len(replicates)} replicates could not be fitted and are "
                         f"left out (first: {failed[0]['error']}).")
    users = float(design.meta.groupby("country")["user_id"].nunique().median())
    tables = summarise(replicates, gen, profiles, c.alpha, c4.alpha, users)
    tables["calibrated_p"] = trust.calibrated_p_values(pd.DataFrame(fitted["observed"]), replicates)
    null_done = sum(r["scale"] == 0 for r in replicates if not r.get("error"))
    cost = f"{seconds / 60:.1f} minutes of compute" if seconds else "reused from an earlier run"
    why = (f"a small design: a median of {users:,.0f} users per country, below {trust.SMALL_DESIGN_USERS}, where "
           "cluster-robust Wald tests reject a true null too often" if users < trust.SMALL_DESIGN_USERS else
           f"calibration asked for; a median of {users:,.0f} users per country")
    tables["decision"] = pd.DataFrame([{
        "mode": "calibrated" if null_done >= trust.MIN_NULL else "too few replicates", "users_per_country": users,
        "threshold": trust.SMALL_DESIGN_USERS, "replicates": null_done, "seconds": round(seconds, 1),
        "explanation": f"p-values calibrated on {null_done} simulations of this design without country "
                       f"differences ({why}; {cost})"}])
    res.tables.update({f"calibration_{k}": v for k, v in tables.items()})
    fpr = tables["fpr"]
    say("calibration: false-positive rate " + ", ".join(
        f"{r.family} {r.fpr:.3f} (CI to {r.ci_high:.3f})" for r in fpr.itertuples()))
    return _tidy_tables(tables)


def summarise(replicates: list[dict], gen: Generative, profiles: pd.DataFrame, alpha: float,
              literature_alpha: float, users_per_country: float) -> dict[str, pd.DataFrame]:
    """The calibration's tables: fpr, power, detectable (MDE and users per feature), recovery, users_recovery."""
    outcomes = trust.claim_outcomes(replicates, gen, profiles, alpha, literature_alpha)
    nominal = {"heterogeneity": alpha, "hofstede": alpha, "literature": literature_alpha, "rq3": 0.05}
    ok = [r for r in replicates if not r.get("error")]
    planted = any(r["scale"] > 0 for r in ok)
    tables = {"fpr": trust.false_positive_rates(outcomes, nominal),
              "power": trust.power_table(outcomes) if planted else pd.DataFrame()}
    if planted:
        tables["detectable"] = trust.detectable_effects(ok, gen, users_per_country, alpha)
        tables["recovery"] = trust.recovery(ok, gen)
        tables["users_recovery"] = trust.users_for_recovery(ok, gen, users_per_country)
    tables["settings"] = pd.DataFrame([{"null_replicates": sum(r["scale"] == 0 for r in ok),
                                        "planted_replicates": sum(r["scale"] > 0 for r in ok),
                                        "failed": len(replicates) - len(ok), "users_per_country": users_per_country,
                                        "countries": len(gen.countries),
                                        "rho_critical": trust.rho_critical(len(gen.countries), alpha)}])
    return tables


def _tidy_tables(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    parts = [tidy(t["fpr"].rename(columns={"family": "feature", "fpr": "value"}).assign(
        metric="false_positive_rate", test="null replicates, Wilson CI clustered by replicate"), question="calibration")]
    if not t["power"].empty:
        parts.append(tidy(t["power"].rename(columns={"family": "feature", "scale": "fraction", "power": "value"})
                           .assign(metric="power", test="planted replicates"), question="calibration"))
        d = t["detectable"]
        parts += [tidy(d[["feature", "mde_80"]].rename(columns={"mde_80": "value"}).assign(
                      metric="mde_80_logodds_per_sd", test="noncentral chi-square fit"), question="calibration"),
                  tidy(d[["feature", "users_per_country_80"]].rename(columns={"users_per_country_80": "value"})
                        .assign(metric="users_per_country_for_80_power"), question="calibration"),
                  tidy(t["recovery"].rename(columns={"scale": "fraction", "spearman": "value"}).assign(
                      metric="within_feature_spearman"), question="calibration")]
    if "calibrated_p" in t and not t["calibrated_p"].empty:
        parts.append(tidy(t["calibrated_p"].rename(columns={"wald_chi2": "value"}).assign(
            metric="heterogeneity_wald_chi2", test="parametric bootstrap against the null replicates")
            .drop(columns=["p_value"]).rename(columns={"p_calibrated": "p_value"}), question="calibration"))
    return pd.concat(parts, ignore_index=True)
