"""How small a design makes RQ4's asymptotic heterogeneity tests unreliable: the rule behind ``calibration: auto``.

For each size in ``--users`` (users per country: 25, 50, 100, 250 by default) and each of ``--designs`` simulated
marketplaces (8 countries, the twin preset's simulator, seeds 0, 1, ...), the RQ4 design is built as the study
builds it (clicked impressions, the six observable offer features standardised over the catalogue), its null
model is fitted (one intercept and one slope per feature for every country: no country differences at all), and
``--replicates`` label sets are drawn from it, exactly as ``culturecart calibrate`` draws its null replicates.
Each replicate runs the study's country-interaction logit with standard errors clustered by user and its Wald
test of equal slopes per feature; a rejection at 0.05 is a false positive.

The false-positive rate per size is pooled over designs and replicates, with a Wilson interval at the
replicate-clustered effective number of tests (:func:`culturecart.culture.trust.clustered_rate`). The rule:
**the threshold is the smallest size from which on every measured size's 95% interval holds the nominal 5%**
(no inflation the measurement can see, at 1,800 tests per size); below it ``calibration: auto`` calibrates the
verdicts. The sizes below the threshold are the ones whose interval lies wholly above 5%.
``threshold_in_code`` is :data:`culturecart.culture.trust.SMALL_DESIGN_USERS`, ``agrees`` whether the two match.

Last line: ``fpr`` {users per country: rate}, ``fpr_ci`` {users: [low, high]}, ``tests`` {users: n},
``threshold``, ``threshold_in_code``, ``agrees``, ``seconds``, ``peak_rss_mb``.
Usage: python benchmarks/calibration_threshold.py [--users 25,50,100,250] [--designs 3] [--replicates 100]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _measure import emit, peak_rss_mb

from culturecart.culture.calibration import draw_labels, estimable, fit_generative, replicate_seed
from culturecart.culture.sensitivity import SensitivityDesign, country_logit, sensitivity_design
from culturecart.culture.trust import SMALL_DESIGN_USERS, clustered_rate
from culturecart.data import SimulationConfig, write_marketplace
from culturecart.parallel import parallel_map

COUNTRIES = ["KR", "US", "GB", "DE", "JP", "FR", "ES", "ID"]
NOMINAL = 0.05  # a size whose false-positive interval lies wholly above it has measurable inflation


def _replicate(design: SensitivityDesign, gen, seed: int, replicate: int) -> tuple[int, int]:
    """(rejections at 0.05, tests) of one null replicate."""
    from threadpoolctl import threadpool_limits

    y = draw_labels(gen, design, 0.0, replicate_seed(seed, 0.0, replicate))
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = country_logit(SensitivityDesign(design.x, y, design.meta, {}), min_rows=100)
        except (ValueError, np.linalg.LinAlgError):
            return 0, 0
    return int((fit.heterogeneity["p_value"] < 0.05).sum()), len(fit.heterogeneity)


def _design(users_per_country: int, seed: int, root: Path) -> tuple[SensitivityDesign, object]:
    cfg = SimulationConfig(n_users=users_per_country * len(COUNTRIES), seed=seed, countries=COUNTRIES)
    ds = write_marketplace(root / f"u{users_per_country}-s{seed}", cfg, overwrite=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = sensitivity_design(ds, None, rows="clicked")
        gen = fit_generative(design)
    return estimable(design, gen.countries), gen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", default="25,50,100,250")
    parser.add_argument("--designs", type=int, default=3)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(u) for u in args.users.split(",")]
    t0 = time.perf_counter()
    fpr, ci, tests = {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="cc-threshold-") as tmp:
        for users in sizes:
            hits, counts = [], []
            for seed in range(args.designs):
                design, gen = _design(users, seed, Path(tmp))
                out = parallel_map(_replicate, [(design, gen, seed, r) for r in range(args.replicates)],
                                   n_jobs=args.n_jobs)
                hits += [h for h, _ in out]
                counts += [n for _, n in out]
            rate, low, high = clustered_rate(hits, counts)
            fpr[users], ci[users], tests[users] = round(rate, 4), [round(low, 4), round(high, 4)], int(sum(counts))
            print(f"{users:>4} users per country: false-positive rate {rate:.3f} [{low:.3f}, {high:.3f}] "
                  f"over {sum(counts):,} tests ({time.perf_counter() - t0:.0f}s)", flush=True)
    trusted = [u for u in sizes if all(ci[v][0] <= NOMINAL for v in sizes if v >= u)]
    threshold = min(trusted) if trusted else None
    print(f"threshold (smallest size from which every interval holds {NOMINAL}): {threshold}; in the code: "
          f"{SMALL_DESIGN_USERS}")
    emit({"fpr": fpr, "fpr_ci": ci, "tests": tests, "threshold": threshold, "threshold_in_code": SMALL_DESIGN_USERS,
          "agrees": threshold == SMALL_DESIGN_USERS, "designs": args.designs, "replicates": args.replicates,
          "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(peak_rss_mb(), 1)})


if __name__ == "__main__":
    main()
