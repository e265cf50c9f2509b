"""Next-item prediction per locale on Amazon-M2 sessions: global vs per-locale vs add-one-locale models.

Data: the released test-split sessions (6 locales), converted by the amazon-m2 adapter to canonical
events (the row with purchased = 1 is the session's next item). 20% of each locale's sessions are the
test set (seeded). Models: co-visitation (culturecart.ranking.sessions.CoVisitation) fitted on the
training sessions of (a) every locale (global), (b) the target locale only (local), (c) the target plus one
other locale (add-one, for every other locale); popularity baselines (global and local); and the sequence-aware
re-ranker (culturecart.ranking.session_rerank.SessionReRanker, for the next *new* item: LambdaRank over
co-visitation candidates with transition, last-step, recency and position features, 5 folds of held-out last
items) fitted on the target locale alone (local), with one other locale (add-one) and with every other locale
(global).
Sessions of task 3 have no next item: the adapter makes their last viewed item the target, which repeats an
earlier item of the session in 11-24% of them. The co-visitation figures per locale (``mrr_global`` ...) use
every test session, as before; the re-ranker is scored, beside global and local co-visitation, on the **task-2
test sessions** of FR, IT and ES (their true next item, never one of the session's own items): MRR@100 with
bootstrap CIs over sessions, its gain over global co-visitation and its global-minus-local delta as paired
bootstrap CIs (``reranker_minus_covisit_global``, ``reranker_global_minus_local``).
Needs the shared data. Usage: python benchmarks/amazon_m2_locales.py [--limit N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _measure import emit, peak_rss_mb

from culturecart.data.adapters.amazon_m2 import convert_amazon_m2
from culturecart.evaluate.bootstrap import bootstrap_statistic
from culturecart.evaluate.metrics import mrr_at, ndcg_at, next_item_ranks
from culturecart.paths import data_root
from culturecart.ranking.session_rerank import SessionReRanker
from culturecart.ranking.sessions import CoVisitation, Popularity


def session_table(ds) -> pd.DataFrame:
    """One row per session: ordered history, target item, country."""
    ev = ds.events.sort_values(["session_id", "position"], kind="stable")
    grouped = ev.groupby("session_id", sort=False)
    seq = grouped["item_id"].agg(list)
    is_target = grouped["purchased"].agg(list)
    table = pd.DataFrame({"items": seq, "flags": is_target}).reset_index()
    table["history"] = [[i for i, f in zip(s, fl, strict=True) if not f] for s, fl in zip(table["items"], table["flags"],
                                                                                       strict=True)]
    table["target"] = [next(i for i, f in zip(s, fl, strict=True) if f) for s, fl in zip(table["items"], table["flags"],
                                                                                      strict=True)]
    country = ds.users.set_index("user_id")["country"]
    table["country"] = country.reindex(table["session_id"]).to_numpy()
    return table[["session_id", "history", "target", "country"]]


def score(model, test: pd.DataFrame, n_boot: int, seed: int) -> dict:
    ranks = next_item_ranks(model.recommend(test["history"].tolist(), k=100), test["target"].tolist())
    out = {"rr": mrr_at(ranks, 100)}
    for name, per in (("mrr@100", mrr_at(ranks, 100)), ("ndcg@10", ndcg_at(ranks, 10))):
        ci = bootstrap_statistic(lambda i, per=per: float(per[i].mean()), len(per), n_boot=n_boot, seed=seed)
        out[name] = (ci.estimate, ci.low, ci.high)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="rows per file (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-boot", type=int, default=200)
    args = parser.parse_args()
    t0 = time.perf_counter()
    ds = convert_amazon_m2(data_root() / "amazon_m2_test", limit=args.limit)
    sessions = session_table(ds)
    first = ds.events.drop_duplicates("session_id").set_index("session_id")["source_file"]
    sessions["task2"] = first.reindex(sessions["session_id"]).astype(str).str.startswith("task2").to_numpy()
    rng = np.random.default_rng(args.seed)
    sessions["test"] = rng.random(len(sessions)) < 0.2
    train = sessions[~sessions["test"]]
    train_seq = {c: [h + [t] for h, t in zip(g["history"], g["target"], strict=True)]
                 for c, g in train.groupby("country")}
    locales = sorted(train_seq)
    everything = [s for c in locales for s in train_seq[c]]
    global_cv, global_pop = CoVisitation().fit(everything), Popularity().fit(everything)
    rows, rr, deltas = [], {}, {}

    def record(target: str, model: str, scope: str, fitted, test: pd.DataFrame, subset: str) -> None:
        scored = score(fitted, test, args.n_boot, args.seed)
        rr[(subset, target, model, scope)] = scored.pop("rr")
        for metric, (v, lo, hi) in scored.items():
            rows.append({"subset": subset, "locale": target, "model": model, "scope": scope, "metric": metric,
                         "value": v, "ci_low": lo, "ci_high": hi, "test_sessions": len(test)})

    def delta(subset: str, target: str, a: tuple[str, str], b: tuple[str, str]) -> list[float]:
        diff = rr[(subset, target, *a)] - rr[(subset, target, *b)]
        ci = bootstrap_statistic(lambda i, d=diff: float(d[i].mean()), len(diff), n_boot=args.n_boot, seed=args.seed)
        return [round(ci.estimate, 4), round(ci.low, 4), round(ci.high, 4)]

    for target in locales:  # every test session of the locale (task 3: the last item viewed is the target)
        test = sessions[sessions["test"] & (sessions["country"] == target)]
        runs = {("covisit", "global"): global_cv, ("covisit", "local"): CoVisitation().fit(train_seq[target]),
                ("popularity", "global"): global_pop, ("popularity", "local"): Popularity().fit(train_seq[target])}
        for other in locales:
            if other != target:
                runs[("covisit", f"add:{other}")] = CoVisitation().fit(train_seq[target] + train_seq[other])
        for (model, scope), fitted in runs.items():
            record(target, model, scope, fitted, test, "all")
    task2 = sorted(sessions.loc[sessions["test"] & sessions["task2"], "country"].unique())
    for target in task2:  # the task-2 sessions: their true next item, never one of the session's own items
        test = sessions[sessions["test"] & sessions["task2"] & (sessions["country"] == target)]
        record(target, "covisit", "global", global_cv, test, "task2")
        record(target, "covisit", "local", CoVisitation().fit(train_seq[target]), test, "task2")
        scopes = {"local": [], "global": [c for c in locales if c != target]}
        scopes.update({f"add:{o}": [o] for o in locales if o != target})
        for scope, others in scopes.items():
            started = time.perf_counter()
            fitted = SessionReRanker(repeats=False, folds=5, seed=args.seed).fit(
                train_seq[target], [x for c in others for x in train_seq[c]])
            record(target, "rerank", scope, fitted, test, "task2")
            print(f"{target} rerank {scope}: MRR@100 {rr[('task2', target, 'rerank', scope)].mean():.4f} "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
        deltas.setdefault("rerank global - covisit global", {})[target] = delta(
            "task2", target, ("rerank", "global"), ("covisit", "global"))
        deltas.setdefault("rerank global - rerank local", {})[target] = delta(
            "task2", target, ("rerank", "global"), ("rerank", "local"))
    table = pd.DataFrame(rows)
    mrr = table[(table["metric"] == "mrr@100") & (table["subset"] == "all")]
    wide = mrr.pivot_table(index="locale", columns=["model", "scope"], values="value")
    print(wide.round(4).to_string())
    add = mrr[mrr["scope"].str.startswith("add:")]
    best_add = add.loc[add.groupby("locale")["value"].idxmax()]
    print(best_add[["locale", "scope", "value"]].to_string(index=False))

    def pick(model: str, scope: str, metric: str = "mrr@100", subset: str = "all") -> dict:
        t = table[(table["model"] == model) & (table["scope"] == scope) & (table["metric"] == metric)
                  & (table["subset"] == subset)]
        return {r.locale: round(r.value, 4) for r in t.itertuples()}

    t2 = table[(table["subset"] == "task2") & (table["metric"] == "mrr@100")]
    print("\nTask-2 test sessions (the true next item), MRR@100:")
    print(t2.pivot_table(index="locale", columns=["model", "scope"], values="value").round(4).to_string())
    add_rerank = t2[(t2["model"] == "rerank") & t2["scope"].str.startswith("add:")]
    best_add_rerank = add_rerank.loc[add_rerank.groupby("locale")["value"].idxmax()]

    emit({
        "locales": locales,
        "mrr_global": pick("covisit", "global"), "mrr_local": pick("covisit", "local"),
        "ndcg10_global": pick("covisit", "global", "ndcg@10"), "ndcg10_local": pick("covisit", "local", "ndcg@10"),
        "mrr_popularity_global": pick("popularity", "global"),
        "mrr_best_add_one": {r.locale: [r.scope.split(":")[1], round(r.value, 4)] for r in best_add.itertuples()},
        "global_beats_local": int(sum(pick("covisit", "global")[c] > pick("covisit", "local")[c] for c in locales)),
        "task2_locales": task2,
        "mrr_reranker": pick("rerank", "global", subset="task2"),
        "mrr_reranker_local": pick("rerank", "local", subset="task2"),
        "mrr_reranker_best_add_one": {r.locale: [r.scope.split(":")[1], round(r.value, 4)]
                                      for r in best_add_rerank.itertuples()},
        "mrr_covisit_global_task2": pick("covisit", "global", subset="task2"),
        "mrr_covisit_local_task2": pick("covisit", "local", subset="task2"),
        "reranker_minus_covisit_global": deltas.get("rerank global - covisit global", {}),
        "reranker_global_minus_local": deltas.get("rerank global - rerank local", {}),
        "goal_locales_met": [c for c in task2 if deltas["rerank global - covisit global"][c][0] >= 0.03],
        "sessions": len(sessions), "test_sessions": int(sessions["test"].sum()),
        "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
    })


if __name__ == "__main__":
    main()
