"""Scoring larger than memory: streamed predict at 1M, 4M and 16M events, memory and speed against the bare booster.

Simulates a marketplace of about 1,000,000 events (``--users 26000``), fits LightGBM with a fixed config (500
trees, 63 leaves, no early stopping, as ``benchmarks/predict.py``) on a sample of its users and saves the predictor.
The larger sizes are the same users and catalogue over a longer log: the 1M events repeated k times, each copy's
sessions renamed and shifted by whole spans of the log (so every user's history keeps growing), written as a
folder ``events/`` of Parquet files of at most ``--file-rows`` events.

Each size is scored in a fresh process (``PurchasePredictor.load(dir).predict_proba(folder, out=...)``: validation
and history pass, then featurisation, model and Parquet output, batch by batch), its memory sampled every 0.2 s over
the process tree with psutil (``_measure.TreeMemory``) and read exactly from the scorer's own high-water mark
(``VmHWM``), both until the scores are written (the check of the written scores that follows is not measured); the
peak is the larger of the two. The whole-table path (``predict_proba`` on the 1M dataset loaded in
memory) runs once in a fresh process as today's reference. The floor, in another fresh process: the same batches'
prepared matrices (built untimed) through ``lightgbm.Booster.predict`` alone.

Usage: python benchmarks/predict_scale.py [--users 26000] [--sizes 1,4,16] [--batch-rows 250000] [--quick]
Last line: JSON with per size ``rows``, ``seconds``, ``rows_per_s``, ``peak_rss_mb`` (``tree``, ``main``),
``peak_rss_ratio_max_to_1x``, ``booster_rows_per_s``, ``ratio_to_booster`` per size, ``whole_table_1x``.
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
from _measure import TreeMemory, emit, peak_rss_mb

ENCODERS = {"text": {"name": "char-hash"}, "image": {"name": "image-hash"}}
LIGHTGBM = {"n_estimators": 500, "num_leaves": 63, "learning_rate": 0.05}


def _load(model_dir: str, cache: str):
    """The saved predictor, reading its embeddings from the cache filled at fit (in a fresh process)."""
    import os

    os.environ["CULTURECART_CACHE"] = cache
    from culturecart import PurchasePredictor

    predictor = PurchasePredictor.load(model_dir)
    predictor.config.encoders.cache_dir = cache
    return predictor


def _stream(model_dir: str, data_dir: str, out_dir: str, batch_rows: int, cache: str, queue) -> None:
    import pyarrow.parquet as pq

    started = time.perf_counter()
    predictor = _load(model_dir, cache)
    predictor.predict_proba(data_dir, chunk_size=batch_rows, out=out_dir)
    queue.put({"seconds": time.perf_counter() - started, "main": peak_rss_mb()})  # the measured part ends here
    total, rows = 0.0, 0
    for part in sorted(Path(out_dir).glob("part-*.parquet")):  # the check reads one column, part by part
        p = pq.read_table(part, columns=["p_purchase"]).column(0).to_numpy()
        total, rows = total + float(p.sum()), rows + len(p)
    queue.put({"rows": rows, "mean_p": total / rows})


def _whole(model_dir: str, data_dir: str, batch_rows: int, cache: str, queue) -> None:
    started = time.perf_counter()
    predictor = _load(model_dir, cache)
    p = predictor.predict_proba(data_dir, chunk_size=batch_rows)
    queue.put({"seconds": time.perf_counter() - started, "rows": len(p), "main": peak_rss_mb(),
               "mean_p": float(np.mean(p))})


def _booster(model_dir: str, data_dir: str, batch_rows: int, cache: str, queue) -> None:
    """The bare booster on the prepared matrices of the same batches (matrices built untimed)."""
    from dataclasses import replace

    from culturecart.data.event_files import iter_event_batches
    from culturecart.scoring import _catalogue, _first_pass

    predictor = _load(model_dir, cache)
    featurizer, model = predictor._fitted()
    cat = _catalogue(predictor, data_dir)
    history = _first_pass(predictor, cat, batch_rows)
    booster = model.pooled.booster_
    seconds, rows, total = 0.0, 0, 0.0
    for batch in iter_event_batches(cat.files, batch_rows):
        events = batch.frame.reset_index(drop=True)
        data = featurizer.transform(replace(cat.dataset, events=events), cat.embeddings,
                                    history=history.lookup(events) if history is not None else None)
        matrix = model.pooled._matrix(data)
        started = time.perf_counter()
        p = booster.predict(matrix)
        seconds += time.perf_counter() - started
        rows += len(p)
        total += float(p.sum())
    queue.put({"seconds": seconds, "rows": rows, "mean_p": total / rows})


def in_fresh_process(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    memory = TreeMemory(proc.pid)
    result = queue.get()
    result["tree"] = memory.stop()["rss"]  # sampled while the measured part ran
    if target is _stream:
        result.update(queue.get())  # the check of what was written, after the measurement
    proc.join()
    return result


def repeated(base: Path, out: Path, times: int, file_rows: int) -> Path:
    """The base marketplace's users and catalogue with its events repeated ``times`` over a longer log."""
    shutil.copytree(base, out, ignore=shutil.ignore_patterns("events.parquet", "events"))
    events = pd.read_parquet(base / "events.parquet")
    start = pd.to_datetime(events["timestamp"])
    span = (start.max() - start.min()) + pd.Timedelta(days=1)
    (out / "events").mkdir()
    for c in range(times):
        copy = events if c == 0 else events.assign(session_id=events["session_id"] + f"~{c}",
                                                   timestamp=start + c * span)
        for j, first in enumerate(range(0, len(copy), file_rows)):
            copy.iloc[first:first + file_rows].to_parquet(out / "events" / f"part-{c:03d}-{j:02d}.parquet",
                                                          index=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=26_000, help="26,000 users ~ 1M events")
    parser.add_argument("--products", type=int, default=1000)
    parser.add_argument("--sample-users", type=int, default=4000, help="users whose events train the model")
    parser.add_argument("--sizes", default="1,4,16", help="multiples of the base events to score")
    parser.add_argument("--batch-rows", type=int, default=250_000)
    parser.add_argument("--file-rows", type=int, default=500_000)
    parser.add_argument("--quick", action="store_true", help="2,600 users, sizes 1 and 2 (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.users, args.sample_users, args.sizes = 2600, 1000, "1,2"

    from culturecart import PurchasePredictor
    from culturecart.data import Dataset, SimulationConfig, write_marketplace
    from culturecart.predictor import PredictorConfig

    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="cc-predict-scale-"))
    cache = root / "cache"
    base = root / "market"
    write_marketplace(base, SimulationConfig(n_users=args.users, n_products=args.products, seed=0))
    ds = Dataset.load(base)
    n = len(ds.events)
    sample_users = set(ds.users["user_id"].iloc[: args.sample_users])
    sample = Dataset(users=ds.users, items=ds.items, reviews=ds.reviews, meta=ds.meta, root=ds.root,
                     events=ds.events[ds.events["user_id"].isin(sample_users)].reset_index(drop=True))
    model = PurchasePredictor(config=PredictorConfig(model="lightgbm", valid_share=0, options=LIGHTGBM,
                                                     encoders={**ENCODERS, "cache_dir": str(cache)})).fit(sample)
    model.save(root / "lightgbm")
    assert model.model_.pooled.booster_.num_trees() == LIGHTGBM["n_estimators"]
    del ds, sample, model
    print(f"{n:,} base events; fitted LightGBM ({LIGHTGBM['n_estimators']} trees)", flush=True)

    sizes = [int(s) for s in args.sizes.split(",")]
    runs = {}
    for k in sizes:
        folder = repeated(base, root / f"data-{k}x", k, args.file_rows)
        r = in_fresh_process(_stream, str(root / "lightgbm"), str(folder), str(root / f"scores-{k}x"),
                             args.batch_rows, str(cache))
        assert r["rows"] == k * n, (r["rows"], k * n)
        r["peak"] = max(r["tree"], r["main"])
        runs[k] = r
        print(f"{k}x: {r['rows']:,} events in {r['seconds']:.1f}s ({r['rows'] / r['seconds']:,.0f}/s), peak RSS "
              f"{r['peak']:.0f} MB (tree {r['tree']:.0f}, scorer {r['main']:.0f})", flush=True)
        if k != sizes[0]:
            shutil.rmtree(folder)
        shutil.rmtree(root / f"scores-{k}x")
    one = root / f"data-{sizes[0]}x"
    floor = in_fresh_process(_booster, str(root / "lightgbm"), str(one), args.batch_rows, str(cache))
    assert abs(floor["mean_p"] - runs[sizes[0]]["mean_p"]) < 1e-9, (floor["mean_p"], runs[sizes[0]]["mean_p"])
    whole = in_fresh_process(_whole, str(root / "lightgbm"), str(base), args.batch_rows, str(cache))
    assert abs(whole["mean_p"] - runs[sizes[0]]["mean_p"]) < 1e-9  # the whole-table run scores the same
    whole["peak"] = max(whole["tree"], whole["main"])
    booster_rate = floor["rows"] / floor["seconds"]
    print(f"bare booster: {booster_rate:,.0f} rows/s; whole-table 1x: peak RSS {whole['peak']:.0f} MB, "
          f"{whole['rows'] / whole['seconds']:,.0f} rows/s", flush=True)
    small, large = sizes[0], sizes[-1]
    emit({
        "base_events": n,
        "sizes": {f"{k}x": {"rows": r["rows"], "seconds": round(r["seconds"], 1),
                            "rows_per_s": round(r["rows"] / r["seconds"]),
                            "peak_rss_mb": {"tree": r["tree"], "main": round(r["main"], 1),
                                            "peak": round(r["peak"], 1)},
                            "ratio_to_booster": round(r["rows"] / r["seconds"] / booster_rate, 3)}
                  for k, r in runs.items()},
        f"peak_rss_ratio_{large}x_to_{small}x": round(runs[large]["peak"] / runs[small]["peak"], 3),
        "booster_rows_per_s": round(booster_rate),
        "whole_table_1x": {"rows_per_s": round(whole["rows"] / whole["seconds"]),
                           "peak_rss_mb": round(whole["peak"], 1)},
        "batch_rows": args.batch_rows, "file_rows": args.file_rows, "lightgbm_config": LIGHTGBM,
        "seconds": round(time.perf_counter() - t0, 1),
    }, variant="quick" if args.quick else None)


if __name__ == "__main__":
    main()
