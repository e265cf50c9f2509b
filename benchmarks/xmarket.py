"""Cross-market recommendation on seven real Amazon Electronics markets (XMarket), against published results.

Data: ``$CULTURECART_DATA/xmarket_electronics/<market>_5core.txt.gz`` (ca, de, fr, in, jp, mx, uk; research use
only: read in place, never copied). Protocol of the papers: leave-one-out per user by date (last = test, second
last = valid), the held-out item ranked among 99 sampled negatives, nDCG@10 and HR@10 over users. The split is
made with 3 negative-sampling seeds; training data are the same for every seed, so each ranker is fitted once
and scored on the three seeds' candidate lists.

Per market and scope (local, global, culture, pairwise with each source, all-but each source) three models
are fitted on the training data: the LambdaRank re-ranker over every base ranker, EASE and item-kNN
(``culturecart.ranking``); the (model, scope) of each market is **chosen on validation** (mean valid nDCG@10 over
seeds), and only then its test figure is read. The gain matrix and the chosen-vs-local test use the re-ranker.
EASE's L2 strength is chosen on the local scope's validation run (50, 200 or 1000) and reused for every scope;
the culture weights' temperature on the training data's inner hold-out.
Reported: test nDCG@10 / HR@10 per market and scope (mean over seeds; CI: user bootstrap of the per-user mean
over seeds; the seed spread), popularity rankers (local and pooled) beside them, the published table, the 7 x 7
gain matrix (pairwise minus local, test nDCG@10, paired user-bootstrap CI) and its correlation with the Hofstede
distance of the two countries (Mantel test: all 5,040 permutations of the seven country labels; partial
correlation controlling for the source's log training size), the paired test of the chosen scope vs local per
market (Wilcoxon signed-rank on per-user test nDCG@10, BH-adjusted over markets), and full-catalogue nDCG@10 /
recall@10 (no sampling) for the local, global and chosen scopes and local popularity.

The published figures used other negative samples: they are compared as point values. ``in`` has 239 test users,
so its CI is about +-0.05.

Markets are measured in parallel processes (``--jobs``, one per core by default; each fit runs on its share of the
cores) and each finished market is kept in ``--work`` (``runs/xmarket-benchmark``): a rerun at the same commit and
settings reuses it, so an interrupted run resumes market by market (``market_seconds`` are each market's own run).

Usage: python benchmarks/xmarket.py [--seeds 3] [--markets ca,de,...] [--full-catalogue-users 1000] [--jobs N]
[--work DIR]
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import TreeMemory, commit_id, emit
from scipy.stats import wilcoxon

from culturecart.evaluate.multitest import benjamini_hochberg
from culturecart.parallel import available_cores
from culturecart.paths import data_root
from culturecart.ranking.analysis import mantel_test
from culturecart.ranking.crossmarket import (
    evaluate_run,
    fit_ranker,
    full_catalogue,
    hofstede_distance,
    scope_weights,
    tune_l2,
    tune_tau,
)
from culturecart.ranking.markets import Markets, split_markets

MODELS = ("rerank", "ease", "itemknn")  # candidates for the validation choice; popularity is reported beside
GAIN_MODEL = "rerank"  # the model of the gain matrix and of the chosen-vs-local test
PUBLISHED = {  # test nDCG@10, ECIR 2023 MA paper (see the data's PROVENANCE.md); rows: method
    "GMF": {"de": 0.2574, "jp": 0.0823, "in": 0.0511, "fr": 0.2502, "ca": 0.2566, "mx": 0.5066, "uk": 0.4136},
    "MLP": {"de": 0.2986, "jp": 0.1340, "in": 0.4506, "fr": 0.2869, "ca": 0.2934, "mx": 0.5367, "uk": 0.4465},
    "NMF": {"de": 0.3214, "jp": 0.1717, "in": 0.4265, "fr": 0.3014, "ca": 0.2848, "mx": 0.5430, "uk": 0.4488},
    "NMF++ best source": {"de": 0.3332, "jp": 0.1921, "in": 0.4595, "fr": 0.3271, "ca": 0.3008, "mx": 0.5590,
                          "uk": 0.4702},
    "MA-NMF++ best source": {"de": 0.3415, "jp": 0.1896, "in": 0.4433, "fr": 0.3228, "ca": 0.3158, "mx": 0.5573,
                             "uk": 0.4578},
    "FOREC best source": {"de": 0.3040, "jp": 0.1983, "in": 0.4458, "fr": 0.3191, "ca": 0.2927, "mx": 0.5442,
                          "uk": 0.4683},
    "MAML best source": {"de": 0.3168, "jp": 0.2083, "in": 0.4491, "fr": 0.3152, "ca": 0.2989, "mx": 0.5463,
                         "uk": 0.4671},
    "MA-NMF++ global": {"de": 0.3442, "jp": 0.2212, "in": 0.4602, "fr": 0.3052, "ca": 0.3112, "mx": 0.5536,
                        "uk": 0.4604},
    "FOREC global": {"de": 0.3249, "jp": 0.1956, "in": 0.4778, "fr": 0.3033, "ca": 0.2947, "mx": 0.5409,
                     "uk": 0.4474},
    "MLP++ global": {"de": 0.3268, "jp": 0.2127, "in": 0.4479, "fr": 0.2953, "ca": 0.3048, "mx": 0.5376,
                     "uk": 0.4491},
}


def user_bootstrap(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def per_user(ranker, splits: list[Markets], target: str, run: str) -> pd.DataFrame:
    """Per-user nDCG@10 and HR@10 for each seed's candidate list, and their mean over seeds."""
    frames = [evaluate_run(ranker, m[target], run).set_index("userId")[["ndcg@10", "hr@10"]] for m in splits]
    out = sum(frames) / len(frames)
    out["ndcg_seed"] = list(zip(*[f["ndcg@10"].to_numpy() for f in frames], strict=True))
    return out


@functools.lru_cache(maxsize=1)
def _splits(seeds: int) -> list[Markets]:
    """The seeds' splits, read once per process (training data are the same for every seed: checked)."""
    src = data_root() / "xmarket_electronics"
    splits = [split_markets(src, negatives=99, seed=seed) for seed in range(seeds)]
    for other in splits[1:]:
        assert all(other[m].train.equals(splits[0][m].train) for m in splits[0].names), \
            "training data must not depend on seed"
    return splits


def market_figures(target: str, seeds: int, full_users: int) -> dict:
    """Everything measured on one target market: every (model, scope) fitted and scored, the choice on validation,
    its test against local, the gains of each source and the full-catalogue figures (JSON-ready)."""
    warnings.filterwarnings("ignore", category=UserWarning)
    started_market = time.perf_counter()
    splits = _splits(seeds)
    base = splits[0]
    rows, gains, full = [], {}, []
    tau = tune_tau(base, target)
    scopes = [("local", None), ("global", None), ("culture", None)]
    scopes += [(kind, s) for kind in ("pairwise", "all-but") for s in base.names if s != target]
    local = None
    results = {}
    l2 = tune_l2(base, target)  # EASE's L2 on the local scope's validation run, reused for every scope
    for kind, source in scopes:
        weights = scope_weights(base, target, kind, source, tau=tau if kind == "culture" else None)
        for model in MODELS:
            started = time.perf_counter()
            ranker = fit_ranker(base, target, weights, model, **({"l2": l2} if model == "ease" else {}))
            valid, test = per_user(ranker, splits, target, "valid"), per_user(ranker, splits, target, "test")
            scope = kind if source is None else f"{kind}:{source}"
            name = f"{model}/{scope}"
            results[name] = (ranker, valid, test)
            lo, hi = user_bootstrap(test["ndcg@10"].to_numpy())
            seed_means = np.array(test["ndcg_seed"].tolist()).mean(axis=0)
            rows.append({"market": target, "scope": name, "valid_ndcg10": valid["ndcg@10"].mean(),
                         "test_ndcg10": test["ndcg@10"].mean(), "test_ndcg10_ci": (lo, hi),
                         "test_hr10": test["hr@10"].mean(), "seed_min": seed_means.min(),
                         "seed_max": seed_means.max()})
            if model == GAIN_MODEL and kind == "local":
                local = test
            if model == GAIN_MODEL and kind == "pairwise":
                diff = (test["ndcg@10"] - local["ndcg@10"].reindex(test.index)).to_numpy()
                gains[source] = (diff.mean(), *user_bootstrap(diff))
            print(f"{target} {name:<22} valid {valid['ndcg@10'].mean():.4f} test {test['ndcg@10'].mean():.4f} "
                  f"[{lo:.4f}, {hi:.4f}] HR@10 {test['hr@10'].mean():.4f} "
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
    for kind, weights in (("popularity-local", {}), ("popularity-global", scope_weights(base, target, "global"))):
        pop = fit_ranker(base, target, weights, "popularity")
        test = per_user(pop, splits, target, "test")
        rows.append({"market": target, "scope": kind, "valid_ndcg10": per_user(pop, splits, target, "valid")[
            "ndcg@10"].mean(), "test_ndcg10": test["ndcg@10"].mean(),
            "test_ndcg10_ci": user_bootstrap(test["ndcg@10"].to_numpy()), "test_hr10": test["hr@10"].mean()})
        results[kind] = (pop, None, test)
    best = max((n for n in results if results[n][1] is not None), key=lambda n: results[n][1]["ndcg@10"].mean())
    best_test = results[best][2]
    diff = best_test["ndcg@10"].to_numpy() - local.reindex(best_test.index)["ndcg@10"].to_numpy()
    p_vs_local = float(wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
    rng = np.random.default_rng(0)
    qrel = base[target].qrels["test"]
    subset = qrel.iloc[np.sort(rng.permutation(len(qrel))[:full_users])]
    market = base[target]
    sub_market = type(market)(market.name, market.train, {"test": subset}, {})
    for name in dict.fromkeys([f"{GAIN_MODEL}/local", f"{GAIN_MODEL}/global", best, "popularity-local"]):
        fc = full_catalogue(results[name][0], sub_market, "test")
        full.append({"market": target, "scope": name, "users": len(fc), "ndcg10": fc["ndcg@10"].mean(),
                     "recall10": fc["recall@10"].mean()})
    print(f"{target}: chosen on validation: {best}; tau {tau}; EASE l2 {l2}", flush=True)
    return json.loads(json.dumps({"rows": rows, "gains": gains, "chosen": best, "p_vs_local": p_vs_local,
                                  "full": full, "seconds": time.perf_counter() - started_market}, default=float))


def _share_of_cores(threads: int) -> None:
    from threadpoolctl import threadpool_limits

    os.environ["OMP_NUM_THREADS"] = str(threads)  # LightGBM's threads (culturecart.parallel.thread_budget)
    threadpool_limits(threads)  # BLAS, already loaded before the fork


def kept_market(work: Path, target: str, key: dict, seeds: int, full_users: int) -> dict:
    """One market's figures: read from ``work`` when a run of the same commit and settings finished it, else
    measured and written there atomically (so an interrupted benchmark resumes market by market)."""
    path = work / f"{target}.json"
    if path.is_file():
        kept = json.loads(path.read_text("utf-8"))
        if kept.get("key") == key:
            print(f"{target}: kept from {path} (same commit and settings)", flush=True)
            return kept["result"]
    result = market_figures(target, seeds, full_users)
    if key["commit"] not in ("unknown",) and not key["commit"].endswith("+changes"):
        work.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"key": key, "result": result}), encoding="utf-8")
        os.replace(tmp, path)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--markets", default=None, help="comma-separated subset (default: all seven)")
    parser.add_argument("--full-catalogue-users", type=int, default=1000,
                        help="users per market for the full-catalogue metrics (a fixed random subset)")
    parser.add_argument("--jobs", type=int, default=0,
                        help="markets measured at once, each in its own process with its share of the cores "
                             "(default: one per core)")
    parser.add_argument("--work", type=Path, default=Path("runs/xmarket-benchmark"),
                        help="each finished market's figures, reused by a rerun at the same commit and settings")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    t0 = time.perf_counter()
    memory = TreeMemory(os.getpid())
    if not (data_root() / "xmarket_electronics").is_dir():
        raise SystemExit(f"{data_root() / 'xmarket_electronics'} not found: set CULTURECART_DATA")
    base = _splits(args.seeds)[0]  # before the fork: the workers inherit it
    markets = args.markets.split(",") if args.markets else base.names
    size = pd.Series({m: len(base[m].train) for m in base.names})
    key = {"commit": commit_id(), "seeds": args.seeds, "full_catalogue_users": args.full_catalogue_users}
    largest_first = sorted(markets, key=lambda m: -size[m])  # the long markets start first: the workers end together
    jobs = min(args.jobs or available_cores(), len(markets))
    work = functools.partial(kept_market, args.work, key=key, seeds=args.seeds, full_users=args.full_catalogue_users)
    if jobs == 1:
        done = {m: work(m) for m in largest_first}
    else:  # forked workers share the parent's split in memory and find this script's functions by name
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=_share_of_cores,
                                 initargs=(max(1, available_cores() // jobs),)) as pool:
            done = dict(zip(largest_first, pool.map(work, largest_first), strict=True))
    rows = [row for m in markets for row in done[m]["rows"]]
    gains = {(m, s): tuple(v) for m in markets for s, v in done[m]["gains"].items()}
    chosen = {m: done[m]["chosen"] for m in markets}
    tests = {m: done[m]["p_vs_local"] for m in markets}
    full = [row for m in markets for row in done[m]["full"]]

    table = pd.DataFrame(rows)
    best_published = {m: max(v[m] for v in PUBLISHED.values()) for m in markets}
    summary = []
    for m in markets:
        r = table[(table["market"] == m) & (table["scope"] == chosen[m])].iloc[0]
        summary.append({"market": m, "chosen_scope": chosen[m], "test_ndcg10": r["test_ndcg10"],
                        "ci_low": r["test_ndcg10_ci"][0], "ci_high": r["test_ndcg10_ci"][1],
                        "best_published": best_published[m], "p_vs_local": tests[m]})
    summary = pd.DataFrame(summary)
    summary["p_vs_local_bh"] = benjamini_hochberg(summary["p_vs_local"])
    print("\nChosen scope per market (test nDCG@10 with user-bootstrap CI) vs the best published figure "
          "(other negative samples: a point comparison):")
    print(summary.round(4).to_string(index=False))
    print("\nPublished test nDCG@10:")
    print(pd.DataFrame(PUBLISHED).T[markets].to_string())
    print("\nFull catalogue (no sampling):")
    print(pd.DataFrame(full).round(4).to_string(index=False))

    figures = {
        "ndcg10": {m: {s: round(float(v), 4) for s, v in table[table["market"] == m].set_index("scope")[
            "test_ndcg10"].items()} for m in markets},
        "hr10": {m: {s: round(float(v), 4) for s, v in table[table["market"] == m].set_index("scope")[
            "test_hr10"].items()} for m in markets},
        "chosen_scope": chosen,
        "best_published": best_published,
        "markets_beating_best_published": int((summary["test_ndcg10"] > summary["best_published"]).sum()),
        "markets_beating_best_published_ci": int((summary["ci_low"] > summary["best_published"]).sum()),
        "chosen_ci": {r["market"]: [round(r["ci_low"], 4), round(r["ci_high"], 4)] for _, r in summary.iterrows()},
        "best_published_method": {m: max(PUBLISHED, key=lambda k: PUBLISHED[k][m]) for m in markets},
        "local_rerank_ci": {r["market"]: [round(v, 4) for v in r["test_ndcg10_ci"]]
                            for r in rows if r["scope"] == f"{GAIN_MODEL}/local"},
        # significant digits, not decimals: a p of 3e-12 must not print as 0
        "chosen_vs_local_p_bh": {m: float(f"{p:.3g}") for m, p in zip(summary["market"], summary["p_vs_local_bh"],
                                                                      strict=True)},
        "full_catalogue": {f"{r['market']}:{r['scope']}": {"ndcg10": round(r["ndcg10"], 4),
                                                           "recall10": round(r["recall10"], 4)} for r in full},
        "note": "published figures used other negative samples: compared as point values",
    }
    if len(markets) == len(base.names):
        names = base.names
        gain = pd.DataFrame(np.nan, index=names, columns=names)
        for (t, s), (g, _, _) in gains.items():
            gain.loc[t, s] = g
        dist = pd.DataFrame([[hofstede_distance(base[a].country, base[b].country) for b in names] for a in names],
                            index=names, columns=names)
        link = mantel_test(gain, dist, size)
        print("\nGain matrix (pairwise minus local, test nDCG@10; rows target, columns source):")
        print(gain.round(4).to_string())
        print(f"gain vs Hofstede distance: r {link['r']:.3f} (Mantel p {link['p']:.3f}), partial r given source size "
              f"{link['partial_r']:.3f} (p {link['partial_p']:.3f}), {link['pairs']} pairs")
        figures.update({"gain_matrix": {t: {s: [round(v, 4) for v in gains[(t, s)]] for s in names if s != t}
                                        for t in names},
                        "gain_hofstede_r": round(link["r"], 4), "gain_hofstede_p": round(link["p"], 4),
                        "gain_hofstede_partial_r": round(link["partial_r"], 4),
                        "gain_hofstede_partial_p": round(link["partial_p"], 4)})
    figures["seconds"] = round(time.perf_counter() - t0, 1)
    figures["market_seconds"] = {m: round(done[m]["seconds"], 1) for m in markets}  # kept markets: their first run
    figures["jobs"] = jobs
    figures["peak_rss_mb"] = memory.stop()["rss"]
    emit(figures, variant=None if args.markets is None else f"markets-{'-'.join(markets)}")


if __name__ == "__main__":
    main()
