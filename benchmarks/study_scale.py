"""How the study's cost grows with the data: the twin study (LightGBM and the transformer; RQ1 and RQ3) at
about 80k, 400k and 1.6M simulated events.

Each size runs ``culturecart study`` in a fresh process on a simulated marketplace with 2,000, 10,000 and
40,000 users (the same 600 products, so encoding the catalogue is a fixed cost). Figures per size:

* ``seconds``: the whole command, wall clock;
* ``fit_score_seconds``: the compute of every fit-and-score unit (from the study's ``timings.json``: seconds
  each unit spent on its worker), the part that should grow with the data; imports, simulation, encoding and
  the report are the fixed costs left out;
* ``peak_rss_mb`` / ``peak_pss_mb``: the peak of the summed resident (proportional) memory of the study process
  and all its workers, sampled every 0.2 s with psutil (see ``TreeMemory``); ``peak_rss_main_mb``: the study
  process alone.

``slope_400k_1600k`` is the log-log slope of fit-and-score time between the two largest sizes (1 = linear);
``slope_by_unit`` the same per unit. LightGBM's early stopping keeps more trees on more data (``lightgbm_trees``
per size), so its units grow faster than the data even at a constant cost per tree; the transformer's fixed
epochs are a constant work per event.
The transformer trains ``--epochs`` epochs (default 2) at every size, so the work per event is constant.
Usage: python benchmarks/study_scale.py [--users 2000 10000 40000] [--epochs 2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml
from _measure import TreeMemory, emit


def config(users: int, epochs: int) -> dict:
    return {
        "name": f"twin scale {users} users",
        "data": {"preset": "twin", "simulate": {"n_users": users, "n_products": 600, "seed": 0}},
        "rq1": {"models": ["lightgbm"], "subsets": "full", "extra": ["transformer"], "n_boot": 150,
                "model_options": {"transformer": {"epochs": epochs}}},
        "rq2": {"enabled": False}, "rq4": {"enabled": False}, "rq5": {"enabled": False},
        "rq3": {"n_boot": 150}, "matching": {"enabled": False},
    }


def lightgbm_trees(models: Path) -> dict[str, int]:
    """Trees kept (the early-stopping best iteration) by each single-booster LightGBM model the study published:
    LightGBM fits more rounds on more data before validation stops improving, work that grows with the data."""
    out = {}
    for name in ("rq1-lightgbm", "rq3-global", "rq3-culture"):
        boosters = sorted((models / name).rglob("*.txt"))
        if len(boosters) == 1:
            out[name] = boosters[0].read_text("utf-8").count("\nTree=")
    return out


def run(users: int, epochs: int, root: Path) -> dict:
    folder = root / f"users-{users}"
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = folder / "study.yaml"
    cfg_path.write_text(yaml.safe_dump(config(users, epochs)), encoding="utf-8")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "culturecart.cli", "study", str(cfg_path), "--out",
                             str(folder / "run"), "--quiet"], stderr=subprocess.PIPE, text=True)
    memory = TreeMemory(proc.pid)
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    peak = memory.stop()
    if proc.returncode != 0:
        raise SystemExit(f"study with {users} users failed:\n{err[-3000:]}")
    units = json.loads((folder / "run" / "timings.json").read_text("utf-8"))
    events = pq.ParquetFile(folder / "run" / "data" / "events.parquet").metadata.num_rows
    by_stage = {}
    for u in units:
        by_stage[u["stage"]] = round(by_stage.get(u["stage"], 0.0) + u["seconds"], 1)
    figures = {"users": users, "events": events, "seconds": round(seconds, 1),
               "fit_score_seconds": round(sum(u["seconds"] for u in units), 1), "by_stage": by_stage,
               "unit_seconds": {f"{u['stage']} {u['name']}": u["seconds"] for u in units},
               "lightgbm_trees": lightgbm_trees(folder / "run" / "models"),
               "peak_rss_mb": peak["rss"], "peak_pss_mb": peak["pss"], "peak_rss_main_mb": peak["main"]}
    print(json.dumps(figures), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, nargs="+", default=[2000, 10000, 40000])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="cc-scale-"))
    sizes = [run(u, args.epochs, root) for u in args.users]
    b = sizes[-1]
    figures = {"sizes": sizes, "peak_rss_mb_largest": b["peak_rss_mb"], "peak_pss_mb_largest": b["peak_pss_mb"],
               "peak_rss_goal_mb": 8192, "epochs": args.epochs}
    if len(sizes) > 1:  # the slope between the two largest sizes (one size, e.g. --users 40000: memory only)
        a = sizes[-2]
        slope = math.log(b["fit_score_seconds"] / a["fit_score_seconds"]) / math.log(b["events"] / a["events"])
        figures["slope_400k_1600k"], figures["slope_goal"] = round(slope, 3), 1.1
        figures["slope_by_unit"] = {
            name: round(math.log(b["unit_seconds"][name] / seconds) / math.log(b["events"] / a["events"]), 3)
            for name, seconds in a["unit_seconds"].items() if b["unit_seconds"].get(name) and seconds > 0}
    emit(figures)


if __name__ == "__main__":
    main()
