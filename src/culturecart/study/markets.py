"""RQ3 and RQ5 on a markets folder (ratings only): a ranker in every scope, the gain matrix, learning curves.

The same machinery as the events study: every fit is a :class:`~culturecart.study.store.Unit` (resumable,
parallel, on any backend), keyed by what it computes, so RQ3's local and global scopes are also RQ5's full-data
points and are fitted once. A unit fits ``ranking.model`` on the target market (a share ``fraction`` of its
training interactions, drawn with ``seed``) plus the scope's sources, then scores the target's valid and test
candidate lists; it returns per-user metrics, and everything else is computed on the driver:

* **RQ3** per market and scope: test nDCG@10 and HR@10 with user-bootstrap CIs; each scope against ``local``:
  mean paired difference with its CI and the Wilcoxon signed-rank p-value, Benjamini-Hochberg over every
  comparison; the cultural-fit score on nDCG, ``(nDCG(m) - chance) / (nDCG(local) - chance)`` with ``chance``
  the nDCG of a random order of each candidate list.
* **RQ5** the source x target gain matrix (target + one source minus local, per-user paired; CI, Wilcoxon, BH) and
  its correlation with the Hofstede distance of the two countries (Mantel permutation test, partial r given the
  source's size); learning curves: test nDCG@10 against the share of the target's training interactions, alone
  (``local``) and with every source (``global``); at share 0 the model has learned from the sources only and
  reads the target users' histories (zero-shot).

Ratings carry no modalities, no purchase labels and no item attributes: RQ1, RQ2 and RQ4 cannot be answered and
the report says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from culturecart.data.hofstede import DIMENSIONS, with_extra_profiles
from culturecart.evaluate.bootstrap import bootstrap_statistic
from culturecart.evaluate.multitest import benjamini_hochberg
from culturecart.ranking.analysis import chance_ndcg, mantel_test, mean_interval, paired_test
from culturecart.ranking.crossmarket import evaluate_run, hofstede_distance, scope_weights
from culturecart.ranking.markets import Market, Markets
from culturecart.ranking.registry import create_ranker
from culturecart.study.scheduling import Stage, tidy
from culturecart.study.store import Unit

METRICS = ("ndcg@10", "hr@10")


def fraction_view(markets: Markets, target: str, fraction: float, seed: int) -> Markets:
    """The markets with only ``fraction`` of the target's training interactions (drawn without replacement)."""
    if fraction >= 1:
        return markets
    market = markets[target]
    n = len(market.train)
    rng = np.random.default_rng([seed, round(fraction * 10_000), *target.encode()])
    keep = np.sort(rng.choice(n, size=int(round(fraction * n)), replace=False))
    part = Market(market.name, market.train.iloc[keep].reset_index(drop=True), market.qrels, market.runs)
    return Markets(markets.root, {**markets.markets, target: part})


def rank_scope(markets: Markets, target: str, scope: str, source: str | None, model: str, options: dict,
               fraction: float = 1.0, seed: int = 0, profiles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Fit ``model`` on the target (its ``fraction``) and the scope's sources; per-user test metrics (the study
    chooses nothing, so the valid lists are not scored).

    ``profiles``: the Hofstede table of the culture scope (default: the shipped scores).
    Columns: run, userId, ndcg@10, hr@10, rr, cold, candidates (the list's length).
    """
    view = fraction_view(markets, target, fraction, seed)
    weights = scope_weights(view, target, scope, source, profiles=profiles)
    ranker = create_ranker(model, **options).fit(view, target, weights).with_histories(markets)
    per_user = evaluate_run(ranker, markets[target], "test")
    lengths = markets[target].runs["test"].drop_duplicates("userId").set_index("userId")["candidates"].str.len()
    per_user = per_user.assign(run="test", candidates=lengths.reindex(per_user["userId"]).to_numpy())
    return per_user[["run", "userId", "ndcg@10", "hr@10", "rr", "cold", "candidates"]]


def _unit(stage: str, name: str, markets: Markets, target: str, scope: str, source: str | None, cfg, base: dict,
          fraction: float = 1.0, seed: int = 0) -> Unit:
    r = cfg.ranking
    seed = seed if fraction < 1 else 0  # the full data are not drawn: one fit, whatever the seed
    payload = {**base, "target": target, "scope": scope, "source": source, "model": r.model,
               "options": r.model_options, "fraction": fraction, "seed": seed}
    profiles = None
    if scope == "culture":  # the only scope that reads the profiles (the user's Hofstede file included)
        profiles = with_extra_profiles(cfg.culture.hofstede_path)
        payload["profiles"] = profiles[list(DIMENSIONS)].to_dict()
    cost = (1.0 + (len(markets.names) - 1) * (scope != "local")) * max(fraction, 0.1)
    return Unit(stage, name, payload, rank_scope, (markets, target, scope, source, r.model, r.model_options,
                                                   fraction, seed, profiles), cost=cost, shared="rank")


def _test(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["run"] == "test"].set_index("userId")


def _country(markets: Markets, name: str) -> str:
    return markets[name].country or name


def targets_of(markets: Markets) -> list[str]:
    """Markets with test users to rank (a market whose test run is empty is a source only)."""
    return [t for t in markets.targets("test") if len(markets[t].qrels.get("test", ())) > 0]


def rq3(cfg, markets: Markets, base: dict, res, say) -> Stage:
    r = cfg.ranking
    targets = targets_of(markets)
    keys = [(t, s) for t in targets for s in dict.fromkeys(["local", *r.scopes])]
    runs = yield [_unit("rq3", f"{t} {s}", markets, t, s, None, cfg, base) for t, s in keys]
    per = {k: _test(f) for k, f in zip(keys, runs, strict=True)}
    rows = []
    for t, s in keys:
        test = per[(t, s)]
        local = per[(t, "local")].reindex(test.index)
        chance = chance_ndcg(test["candidates"].to_numpy(int), 10)
        common = {"market": t, "country": _country(markets, t), "scope": s, "users": len(test)}
        for m in METRICS:
            iv = mean_interval(test[m].to_numpy(), r.n_boot, cfg.seed)
            rows.append({**common, "metric": m, "value": iv.estimate, "ci_low": iv.low, "ci_high": iv.high})
            if s != "local":
                delta, p = paired_test(test[m].to_numpy(), local[m].to_numpy(), r.n_boot, cfg.seed)
                rows.append({**common, "metric": f"{m} vs local", "value": delta.estimate, "ci_low": delta.low,
                             "ci_high": delta.high, "test": "Wilcoxon signed-rank, paired users", "p_value": p})
        a, b = test["ndcg@10"].to_numpy(), local["ndcg@10"].to_numpy()

        def cfs(i: np.ndarray, a=a, b=b, chance=chance) -> float:
            lift = b[i].mean() - chance
            return float((a[i].mean() - chance) / lift) if lift > 0 else float("nan")

        iv = bootstrap_statistic(cfs, len(a), n_boot=r.n_boot, seed=cfg.seed)
        rows.append({**common, "metric": "cultural_fit_score", "value": iv.estimate, "ci_low": iv.low,
                     "ci_high": iv.high, "test": f"(nDCG@10 - {chance:.4f}) / (local nDCG@10 - {chance:.4f})"})
    table = pd.DataFrame(rows)
    tested = table["p_value"].notna() if "p_value" in table else pd.Series(False, index=table.index)
    table["p_adjusted"] = np.nan
    if tested.any():
        table.loc[tested, "p_adjusted"] = benjamini_hochberg(table.loc[tested, "p_value"].to_numpy())
    nd = table[table["metric"] == "ndcg@10"]
    nd = nd[nd["value"].notna()]
    winners = nd.loc[nd.groupby("market")["value"].idxmax(), ["market", "country", "scope", "value"]]
    vs = table[table["metric"] == "ndcg@10 vs local"].set_index(["market", "scope"])
    winners["p_adjusted_vs_local"] = [vs["p_adjusted"].get((m, s), np.nan) for m, s in
                                      zip(winners["market"], winners["scope"], strict=True)]
    res.tables.update(rq3_table=table, rq3_winners=winners.rename(columns={"scope": "winner",
                                                                           "value": "test_ndcg@10"}))
    say("RQ3: best scope by test nDCG@10: " + ", ".join(f"{k} in {v} market(s)"
                                                        for k, v in winners["scope"].value_counts().items()))
    return tidy(table.rename(columns={"market": "feature"}).drop(columns=["users"]).assign(
        question="RQ3", model=r.model, feature=lambda f: "market:" + f["feature"]))


def rq5(cfg, markets: Markets, base: dict, res, say) -> Stage:
    r = cfg.ranking
    targets, names = targets_of(markets), markets.names
    pairs = [(t, s) for t in targets for s in names if s != t] if r.gain_matrix else []
    curves = [(t, arm, f, seed) for t in targets for arm in r.arms for f in r.fractions
              for seed in (range(r.seeds) if f < 1 else [0]) if not (arm == "local" and f == 0)
              and not (arm == "global" and len(names) < 2)]
    units = [_unit("rq5", f"{t} local", markets, t, "local", None, cfg, base) for t in targets]
    units += [_unit("rq5", f"{t}+{s}", markets, t, "pairwise", s, cfg, base) for t, s in pairs]
    units += [_unit("rq5", f"{t} {arm} {f:g} #{seed}", markets, t, arm, None, cfg, base, f, seed)
              for t, arm, f, seed in curves]
    runs = yield units
    local = {t: _test(f) for t, f in zip(targets, runs, strict=False)}
    pair_runs = runs[len(targets):len(targets) + len(pairs)]
    curve_runs = runs[len(targets) + len(pairs):]
    parts = []
    if pairs:
        profiles, rows = with_extra_profiles(cfg.culture.hofstede_path), []
        for (t, s), frame in zip(pairs, pair_runs, strict=True):
            test = _test(frame)
            delta, p = paired_test(test["ndcg@10"].to_numpy(), local[t]["ndcg@10"].reindex(test.index).to_numpy(),
                                   r.n_boot, cfg.seed)
            rows.append({"target": t, "source": s, "gain": delta.estimate, "ci_low": delta.low, "ci_high": delta.high,
                         "p_value": p, "hofstede_distance": hofstede_distance(markets[t].country, markets[s].country,
                                                                              profiles)})
        gain = pd.DataFrame(rows)
        gain["p_adjusted"] = benjamini_hochberg(gain["p_value"].to_numpy())
        wide = gain.pivot(index="target", columns="source", values="gain").reindex(index=names, columns=names)
        dist = pd.DataFrame([[hofstede_distance(markets[a].country, markets[b].country, profiles)
                              for b in names] for a in names], index=names, columns=names)
        size = pd.Series({m: len(markets[m].train) for m in names})
        link = mantel_test(wide, dist, size, seed=cfg.seed)
        res.tables.update(rq5_gain=gain, rq5_gain_hofstede=pd.DataFrame([link]))
        mantel = (f"gain vs Hofstede distance r {link['r']:.3f} (Mantel p {link['p']:.3f})" if np.isfinite(link["r"])
                  else "no Mantel test (fewer than three markets with a country profile)")
        say(f"RQ5: {int((gain['gain'] > 0).sum())} of {len(gain)} source markets help their target; {mantel}")
        parts.append(tidy(gain.rename(columns={"gain": "value"}).assign(
            question="RQ5", model=r.model, scope="pairwise", metric="ndcg@10 gain vs local",
            country=[_country(markets, t) for t in gain["target"]], feature="source:" + gain["source"],
            test="Wilcoxon signed-rank, paired users")))
        parts.append(tidy(pd.DataFrame([{"question": "RQ5", "model": r.model, "scope": "pairwise",
                                         "dimension": "hofstede distance", "metric": "mantel r",
                                         "value": link["r"], "p_value": link["p"],
                                         "test": f"Mantel, {link['permutations']} permutations"}])))
    rows = []
    for t in targets:
        for arm in r.arms:
            for f in r.fractions:
                frames = [_test(fr) for (tt, a, ff, _), fr in zip(curves, curve_runs, strict=True)
                          if (tt, a, ff) == (t, arm, f)]
                if not frames:
                    continue
                per_user = sum(fr["ndcg@10"] for fr in frames) / len(frames)  # mean over subsamples, per user
                iv = mean_interval(per_user.to_numpy(), r.n_boot, cfg.seed)
                rows.append({"target": t, "country": _country(markets, t), "arm": arm, "fraction": f,
                             "value": iv.estimate, "ci_low": iv.low, "ci_high": iv.high, "seeds": len(frames)})
    curve = pd.DataFrame(rows)
    res.tables["rq5_curves"] = curve
    if not curve.empty:
        parts.append(tidy(curve.rename(columns={"arm": "scope"}).assign(
            question="RQ5", model=r.model, metric="ndcg@10", feature="market:" + curve["target"],
            test="user bootstrap (mean over subsamples)")))
    return pd.concat(parts, ignore_index=True) if parts else None


def stages(cfg, markets: Markets, base: dict, res, say) -> list[Stage]:
    out = []
    if cfg.rq3.enabled:
        out.append(rq3(cfg, markets, base, res, say))
    if cfg.rq5.enabled:
        out.append(rq5(cfg, markets, base, res, say))
    return out


def caveats(markets: Markets) -> list[str]:
    """What a ratings-only markets folder cannot answer, and why."""
    notes = ["Ratings only (user, item, rating, date per market): no modalities, item attributes, consumer "
             "attributes or purchase labels, so RQ1 (fusion vs single modalities), RQ2 (what drives the "
             "prediction) and RQ4 (feature sensitivities per culture) cannot be answered from this data."]
    missing = [m for m in markets.names if markets[m].country is None]
    if missing:
        notes.append(f"Markets {missing} are not country codes: they have no Hofstede profile and are left out of "
                     "the distance test.")
    return notes
