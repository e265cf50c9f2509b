"""Simulator speed and memory: write a marketplace of about 1,000,000 events and validate it.

Target (issue 2): 1M events in under 3 minutes and under 4 GB on 2 cores.
Usage: python benchmarks/simulate.py [--users 25000] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _measure import emit, peak_rss_mb

from culturecart.data import SimulationConfig, validate_dataset, write_marketplace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=26_000, help="26k users ~ 1M events (4 sessions x 10)")
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="cc-sim-")) / "market"
    t0 = time.perf_counter()
    ds = write_marketplace(out, SimulationConfig(n_users=args.users, n_products=args.products, seed=args.seed),
                           overwrite=True)
    seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    problems = validate_dataset(out)
    validate_seconds = time.perf_counter() - t1
    print(f"wrote {out}: {len(ds.events):,} events, {len(ds.items):,} items, {len(ds.reviews):,} reviews "
          f"in {seconds:.1f}s; validate {validate_seconds:.1f}s, {len(problems)} problems")
    emit({
        "events": len(ds.events),
        "items": len(ds.items),
        "users": len(ds.users),
        "seconds": round(seconds, 2),
        "events_per_s": round(len(ds.events) / seconds),
        "validate_seconds": round(validate_seconds, 2),
        "valid": not problems,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    })


if __name__ == "__main__":
    main()
