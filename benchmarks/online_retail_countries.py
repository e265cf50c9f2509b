"""RQ3-RQ5 on UCI Online Retail (real purchases, 37 countries, one UK retailer).

Task (the adapter's): for each customer x month, which of the candidate items (their past items and last
month's best sellers) do they buy that month; features from earlier months only. Split by time (the
latest 20% of customer-months are the test set, the 10% before them validation), so small countries
such as Ireland (3 customers, many months) have rows on both sides.

RQ3: global vs local vs culture-conditioned LightGBM per country with >= ``--min-test-rows`` test rows
and >= 10 purchases: AUC and nDCG@10 (per customer-month) with cluster-bootstrap CIs, DeLong vs global,
cultural-fit score, BH-adjusted winners. RQ5: learning curves for DE, FR, ES and IE (Ireland, "EIRE").
RQ4: country-interaction logit for the relative price (log price over the median price) and the
quantity-discount rate, cluster-robust by customer, with the heterogeneity test. Hofstede profiles come from
the official 2015 file in the shared data (every country of the data set but the regions has one).
Needs the shared data (CULTURECART_DATA or ../shared/data). Usage: python benchmarks/online_retail_countries.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _measure import emit, peak_rss_mb

from culturecart.culture import compare_scopes, country_logit, learning_curves, sensitivity_design
from culturecart.data.adapters.online_retail import convert_online_retail
from culturecart.data.hofstede import load_hofstede
from culturecart.evaluate.splits import make_split
from culturecart.models import build_features
from culturecart.paths import data_root

FAST_LGBM = {"learning_rate": 0.1, "early_stopping_rounds": 30, "n_estimators": 400}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--min-test-rows", type=int, default=300)
    parser.add_argument("--targets", default="DE,FR,ES,IE")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--n-boot", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="cc-retail-"))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    ds = convert_online_retail(data_root() / "uci_online_retail" / "online_retail.csv.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # regions without an ISO code are dropped
        profiles = load_hofstede(data_root() / "hofstede" / "6-dimensions-for-website-2015-08-16.csv")
    data = build_features(ds)
    split = make_split(data, by="time", seed=0)
    country = data.meta["country"].astype(object).to_numpy()
    test_c, test_y = country[split.test], data.y[split.test]
    enough = sorted(c for c in set(test_c[np.array([isinstance(c, str) for c in test_c])])
                    if (test_c == c).sum() >= args.min_test_rows and test_y[test_c == c].sum() >= 10)
    keep = np.isin(country, enough)
    sub = data.rows(np.flatnonzero(keep))
    sub_split = make_split(sub, by="time", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # local fits skipped for tiny countries are in the winners table
        rq3 = compare_scopes(sub, sub_split, "lightgbm", scopes=("global", "local", "culture"), profiles=profiles,
                             metrics=("roc_auc", "ndcg@10"), n_boot=args.n_boot, **FAST_LGBM)
    rq3.table.to_csv(out / "rq3_table.csv", index=False)
    rq3.winners.to_csv(out / "rq3_winners.csv", index=False)
    t = rq3.table
    cfs = t[(t["metric"] == "cultural_fit_score") & (t["scope"] == "global")]

    targets = [c for c in args.targets.split(",") if c in set(country)]
    curves = learning_curves(data, split, targets, seeds=tuple(range(args.seeds)), fractions=(0.0, 0.25, 0.5, 1.0),
                             profiles=profiles, **FAST_LGBM)
    curves.summary.to_csv(out / "rq5_curves.csv", index=False)
    curves.data_equivalent.to_csv(out / "rq5_data_equivalent.csv", index=False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        design = sensitivity_design(ds, rows="all", features=["price", "discount_rate"])
        rq4 = country_logit(design, min_rows=500)
    rq4.effects.to_csv(out / "rq4_effects.csv", index=False)
    rq4.heterogeneity.to_csv(out / "rq4_heterogeneity.csv", index=False)

    show = t[t["metric"].isin(["roc_auc", "ndcg@10"])].pivot_table(index=["country", "metric"], columns="scope",
                                                                     values="value")
    print(show.round(4).to_string())
    print(rq3.winners.to_string(index=False))
    print(curves.summary.round(4).to_string(index=False))
    print(rq4.effects[["country", "feature", "coef", "ci_low", "ci_high"]].round(3).to_string(index=False))
    print(rq4.heterogeneity.to_string(index=False))
    s = curves.summary
    emit({
        "countries": enough,
        "global_wins": int((rq3.winners["winner"] == "global").sum()),
        "local_wins": int((rq3.winners["winner"] == "local").sum()),
        "culture_wins": int((rq3.winners["winner"] == "culture").sum()),
        "significant_winners": int(rq3.winners["significant"].sum()),
        "cfs_median": round(float(cfs["value"].median()), 4),
        "auc_global_median": round(float(t[(t["metric"] == "roc_auc") & (t["scope"] == "global")]["value"].median()), 4),
        "rq5_targets": targets,
        "rq5_zero_shot_auc": {r.target: round(float(r.value), 4)
                              for r in s[(s["arm"] == "global") & (s["fraction"] == 0)].itertuples()},
        "rq5_local_full_auc": {r.target: round(float(r.value), 4)
                               for r in s[(s["arm"] == "local") & (s["fraction"] == 1)].itertuples()},
        "rq4_heterogeneity_p": {r.feature: float(r.p_value) for r in rq4.heterogeneity.itertuples()},
        "rq4_countries": len(rq4.countries),
        "rows": data.n, "out": str(out),
        "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak_rss_mb(), 1),
    })


if __name__ == "__main__":
    main()
