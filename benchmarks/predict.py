"""Batch scoring with a saved PurchasePredictor: rows/s end to end vs the bare LightGBM booster, memory vs size.

Simulates a marketplace of about 1,000,000 events (``--users 26000``), fits LightGBM with a fixed config
(500 trees, 63 leaves, no early stopping: the model's size cannot move the ratio) and the cross-modal
transformer on a sample of its users, saves both predictors, then scores every event with
``PurchasePredictor.load(dir).predict_proba(dataset_folder)`` in a fresh process per run (so each peak RSS is
that run's own): validation, encoders (from the cache filled at fit), featurization and the model, in chunks
of 100,000 events. The floor is ``lightgbm.Booster.predict`` on the same prepared matrix, timed in this run.
A 2,000,000-event copy (every session duplicated under new user and session ids, same catalogue) measures
whether scoring memory stays flat as the data doubles.

Usage: python benchmarks/predict.py [--users 26000] [--sample-users 4000] [--chunk-size 100000]
Last line: JSON with events_per_s_lightgbm, events_per_s_booster, ratio_lightgbm_to_booster,
events_per_s_transformer, peak_rss_mb (per model and size) and seconds.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import emit, peak_rss_mb

ENCODERS = {"text": {"name": "char-hash"}, "image": {"name": "image-hash"}}
LIGHTGBM = {"n_estimators": 500, "num_leaves": 63, "learning_rate": 0.05}  # fitted without a validation set:
# no early stopping, so the booster has exactly 500 trees


def _score(model_dir: str, data_dir: str, chunk_size: int, cache: str, queue) -> None:
    import os

    os.environ["CULTURECART_CACHE"] = cache
    from culturecart import PurchasePredictor

    started = time.perf_counter()
    predictor = PurchasePredictor.load(model_dir)
    predictor.config.encoders.cache_dir = cache
    p = predictor.predict_proba(data_dir, chunk_size=chunk_size)
    queue.put({"seconds": time.perf_counter() - started, "rows": len(p), "peak_rss_mb": peak_rss_mb(),
               "mean_p": float(np.mean(p))})


def score_in_fresh_process(model_dir: Path, data_dir: Path, chunk_size: int, cache: Path) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_score, args=(str(model_dir), str(data_dir), chunk_size, str(cache), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def doubled(src: Path, out: Path) -> Path:
    """The same marketplace with every session present twice (new user and session ids for the copy)."""
    shutil.copytree(src, out, ignore=shutil.ignore_patterns("events.parquet", "users.parquet"))
    events = pd.read_parquet(src / "events.parquet")
    users = pd.read_parquet(src / "users.parquet")
    copy_events = events.assign(user_id=events["user_id"] + "-b", session_id=events["session_id"] + "-b")
    pd.concat([events, copy_events], ignore_index=True).to_parquet(out / "events.parquet", index=False)
    pd.concat([users, users.assign(user_id=users["user_id"] + "-b")], ignore_index=True).to_parquet(
        out / "users.parquet", index=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=26_000, help="26,000 users ~ 1M events")
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--sample-users", type=int, default=4000, help="users whose events train the models")
    parser.add_argument("--chunk-size", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=3, help="transformer epochs (speed is what is measured)")
    parser.add_argument("--no-double", action="store_true", help="skip the 2M-event copy")
    args = parser.parse_args()

    from culturecart import PurchasePredictor
    from culturecart.data import Dataset, SimulationConfig, write_marketplace
    from culturecart.predictor import PredictorConfig

    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="cc-predict-"))
    cache = root / "cache"
    encoders = {**ENCODERS, "cache_dir": str(cache)}
    big = root / "market"
    write_marketplace(big, SimulationConfig(n_users=args.users, n_products=args.products, seed=0))
    ds = Dataset.load(big)
    n = len(ds.events)
    sample_users = set(ds.users["user_id"].iloc[: args.sample_users])
    sample = Dataset(users=ds.users, items=ds.items, reviews=ds.reviews, meta=ds.meta, root=ds.root,
                     events=ds.events[ds.events["user_id"].isin(sample_users)].reset_index(drop=True))
    print(f"{n:,} events; training sample {len(sample.events):,} events", flush=True)

    lgbm = PurchasePredictor(config=PredictorConfig(model="lightgbm", encoders=encoders, valid_share=0,
                                                    options=LIGHTGBM)).fit(sample)
    lgbm.save(root / "lightgbm")
    transformer = PurchasePredictor("transformer", encoders=encoders, epochs=args.epochs).fit(sample)
    transformer.save(root / "transformer")
    booster = lgbm.model_.pooled.booster_
    assert booster.num_trees() == LIGHTGBM["n_estimators"], booster.num_trees()
    print(f"fitted: LightGBM {booster.num_trees()} trees; transformer {args.epochs} epochs", flush=True)

    # The floor: the booster alone on the prepared matrix of every event (built here, untimed).
    _, _, chunks = lgbm.iter_features(ds, chunk_size=n)
    _, data = next(chunks)
    matrix = lgbm.model_.pooled._matrix(data)
    started = time.perf_counter()
    floor_p = booster.predict(matrix)
    booster_seconds = time.perf_counter() - started
    del matrix, data, chunks

    runs = {"lightgbm_1m": score_in_fresh_process(root / "lightgbm", big, args.chunk_size, cache),
            "transformer_1m": score_in_fresh_process(root / "transformer", big, args.chunk_size, cache)}
    assert runs["lightgbm_1m"]["rows"] == n and abs(runs["lightgbm_1m"]["mean_p"] - float(np.mean(floor_p))) < 1e-9
    if not args.no_double:
        twice = doubled(big, root / "market2x")
        runs["lightgbm_2m"] = score_in_fresh_process(root / "lightgbm", twice, args.chunk_size, cache)
        runs["transformer_2m"] = score_in_fresh_process(root / "transformer", twice, args.chunk_size, cache)
    for name, r in runs.items():
        print(f"{name}: {r['rows']:,} events in {r['seconds']:.1f}s ({r['rows'] / r['seconds']:,.0f}/s), "
              f"peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
    lgbm_rate = n / runs["lightgbm_1m"]["seconds"]
    booster_rate = n / booster_seconds
    figures = {
        "events": n,
        "events_per_s_lightgbm": round(lgbm_rate),
        "events_per_s_booster": round(booster_rate),
        "ratio_lightgbm_to_booster": round(lgbm_rate / booster_rate, 3),
        "events_per_s_transformer": round(n / runs["transformer_1m"]["seconds"]),
        "peak_rss_mb": {name: round(r["peak_rss_mb"], 1) for name, r in runs.items()},
        "lightgbm_config": LIGHTGBM,
        "chunk_size": args.chunk_size,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if not args.no_double:
        figures["peak_rss_ratio_2m_to_1m"] = {
            m: round(runs[f"{m}_2m"]["peak_rss_mb"] / runs[f"{m}_1m"]["peak_rss_mb"], 3)
            for m in ("lightgbm", "transformer")}
        figures["events_per_s_lightgbm_2m"] = round(2 * n / runs["lightgbm_2m"]["seconds"])
    emit(figures)


if __name__ == "__main__":
    main()
