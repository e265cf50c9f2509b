"""Does the report claim differences that are not there, and find the ones that are? Whole studies, default settings.

**Nothing planted** (``--designs``, 100 by default): simulated marketplaces with ``heterogeneity_scale=0`` (every
country's sensitivities and baseline the same), each design drawn at random: 4 to 8 countries from the shipped
Hofstede profiles, 25 to 200 users per country (both sides of the ``calibration: auto`` threshold,
:data:`culturecart.culture.trust.SMALL_DESIGN_USERS`), its own simulator seed. Each runs the study as a user
would (RQ3 and RQ4 with their defaults, ``calibration: auto``; RQ1, RQ5 and matching off, as they claim nothing
about countries) and its findings are read:

* **per test**: every RQ3/RQ4 test behind a finding (each country-aware scope against the global model in each
  country, each feature's heterogeneity test, each literature expectation) that is labelled better than "no
  evidence either way" ("clear" or "likely"), pooled over designs, with a Wilson interval at the design-clustered
  effective number of tests (:func:`culturecart.culture.trust.clustered_rate`); its upper bound must be at most
  0.10, the level of the weakest positive label;
* **per report**: the share of reports with any RQ3/RQ4 finding labelled "clear" or "likely".

**Planted at twice the default size** (``--planted-designs``, 20 by default; ``heterogeneity_scale=2``, the same
random designs): the share of planted cross-country differences (features whose planted slope varies across the
countries) labelled "clear" or "likely" against the **measured power** of the same verdict test on the same rows
without the multiple-testing correction (calibrated p < 0.05 on a small design, asymptotic p < 0.05 on a large
one); the labelled share must be at least power - 0.1 (calibration and correction keep the power).

Last line: ``null`` {per_test_rate, per_test_ci, tests, per_report_rate, per_report_ci, reports,
by_family {family: [positives, tests]}, calibrated_designs}, ``planted`` {labelled_share, power, gap,
differences, designs}, ``passes`` {per_test_upper_le_0_10, planted_within_0_1_of_power}, ``seconds``.
Usage: python benchmarks/report_validity.py [--designs 100] [--planted-designs 20] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import emit, peak_rss_mb

from culturecart.culture.trust import SMALL_DESIGN_USERS, clustered_rate
from culturecart.evaluate.multitest import benjamini_hochberg
from culturecart.report.findings import POSITIVE, heterogeneity_table, study_findings
from culturecart.study.config import load_config
from culturecart.study.run import run_study

POOL = ["KR", "US", "GB", "DE", "JP", "FR", "ES", "ID", "CN", "IN", "BR", "IT", "MX", "NL", "SE", "TR", "AU", "CA"]
USERS = (25, 50, 100, 200)
SETTINGS = ["rq1.enabled=false", "rq5.enabled=false", "matching.enabled=false", "calibration=auto"]


def designs(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = int(rng.integers(4, 9))
        out.append({"countries": sorted(rng.choice(POOL, size=k, replace=False).tolist()),
                    "users_per_country": int(rng.choice(USERS)), "seed": 1000 * seed + i})
    return out


def run(design: dict, scale: float, root: Path):
    name = f"h{scale:g}-s{design['seed']}"
    cfg = load_config(preset="twin-small", overrides=[
        *SETTINGS, f"data.simulate.countries=[{','.join(design['countries'])}]",
        f"data.simulate.n_users={design['users_per_country'] * len(design['countries'])}",
        f"data.simulate.seed={design['seed']}", f"data.simulate.heterogeneity_scale={scale}", f"seed={design['seed']}"])
    return run_study(cfg, root / name, quiet=True)


def test_labels(res) -> pd.DataFrame:
    """One row per RQ3/RQ4 test behind a finding: family, positive (labelled "clear" or "likely")."""
    rows = []
    rq3 = res.tables.get("rq3_table")
    if rq3 is not None and not rq3.empty:
        delta = rq3[rq3["metric"] == "auc_delta_vs_global"].dropna(subset=["value"])
        rows += [{"family": "rq3", "positive": bool(r.p_adjusted < 0.10 and r.value > 0)}
                 for r in delta.itertuples()]
    het = heterogeneity_table(res)
    if het is not None and not het.empty:
        rows += [{"family": "rq4 heterogeneity", "positive": v in POSITIVE} for v in het["verdict"]]
    lit = res.tables.get("rq4_literature")
    if lit is not None and not lit.empty:
        tested = lit[lit["verdict"] != "not estimated"]
        rows += [{"family": "rq4 literature", "positive": bool(p < 0.10)} for p in tested["p_adjusted"]]
    return pd.DataFrame(rows, columns=["family", "positive"])


def planted_differences(res) -> pd.DataFrame:
    """Per heterogeneity test whose feature's planted slope varies across the countries: labelled positive, and
    rejected by the same verdict test without the correction (power)."""
    from culturecart.culture.recovery import planted_sensitivities

    het = heterogeneity_table(res)
    if het is None or het.empty or not res.truth:
        return pd.DataFrame(columns=["feature", "labelled", "rejected", "labelled_asymptotic", "calibrated"])
    planted = planted_sensitivities(res.truth, res.countries, list(het["feature"]))
    varies = [f for f in planted.columns if planted[f].std() > 1e-9]
    asymptotic = benjamini_hochberg(het["p_value"].to_numpy())
    keep = het["feature"].isin(varies).to_numpy()
    het = het[keep]
    return pd.DataFrame({"feature": het["feature"], "labelled": het["verdict"].isin(POSITIVE),
                         "rejected": het["p_used"] < 0.05, "labelled_asymptotic": asymptotic[keep] < 0.10,
                         "calibrated": het["verdict_p"] == "calibrated"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--designs", type=int, default=100)
    parser.add_argument("--planted-designs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="keep the studies here (a rerun resumes them)")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="cc-validity-"))
    t0 = time.perf_counter()
    hits, tests, reports, calibrated, families = [], [], [], 0, []
    for i, d in enumerate(designs(args.designs, args.seed)):
        res = run(d, 0.0, root)
        labels = test_labels(res)
        found = [f for f in study_findings(res) if f.question in ("RQ3", "RQ4")]
        hits.append(int(labels["positive"].sum()))
        tests.append(len(labels))
        families.append(labels)
        reports.append(any(f.strength in POSITIVE for f in found))
        calibrated += "calibration_settings" in res.tables
        print(f"null {i + 1}/{args.designs}: {len(d['countries'])} countries x {d['users_per_country']} users, "
              f"{hits[-1]} of {tests[-1]} tests labelled positive, report {'claims' if reports[-1] else 'clean'} "
              f"({time.perf_counter() - t0:.0f}s)", flush=True)
    rate, low, high = clustered_rate(hits, tests)
    r_rate, r_low, r_high = clustered_rate([int(r) for r in reports], [1] * len(reports))
    by_family = pd.concat([pd.DataFrame(columns=["family", "positive"]), *families]).groupby("family")[
        "positive"].agg(["sum", "count"])
    planted = []
    for i, d in enumerate(designs(args.planted_designs, args.seed)):
        res = run(d, 2.0, root)
        planted.append(planted_differences(res).assign(design=i))
        print(f"planted {i + 1}/{args.planted_designs}: {len(d['countries'])} countries x {d['users_per_country']} "
              f"users: {int(planted[-1]['labelled'].sum())} of {len(planted[-1])} differences labelled, "
              f"{int(planted[-1]['rejected'].sum())} rejected ({time.perf_counter() - t0:.0f}s)", flush=True)
    p = pd.concat(planted) if planted else pd.DataFrame(columns=["labelled", "rejected"])
    share, power = float(p["labelled"].mean()), float(p["rejected"].mean())
    figures = {
        "null": {"per_test_rate": round(rate, 4), "per_test_ci": [round(low, 4), round(high, 4)],
                 "tests": int(sum(tests)), "per_report_rate": round(r_rate, 4),
                 "per_report_ci": [round(r_low, 4), round(r_high, 4)], "reports": len(reports),
                 "by_family": {k: [int(v["sum"]), int(v["count"])] for k, v in by_family.iterrows()},
                 "calibrated_designs": calibrated, "threshold_users": SMALL_DESIGN_USERS},
        "planted": {"labelled_share": round(share, 4), "power": round(power, 4), "gap": round(power - share, 4),
                    "differences": len(p), "designs": args.planted_designs, "heterogeneity_scale": 2.0},
        "passes": {"per_test_upper_le_0_10": bool(high <= 0.10), "planted_within_0_1_of_power": bool(share >= power - 0.1)},
        "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak_rss_mb(), 1), "out": str(root)}
    print(json.dumps(figures["null"]["by_family"]))
    emit(figures)


if __name__ == "__main__":
    main()
