"""Do refactorings move any figure? The same small runs on this checkout and on a reference commit, compared.

Runs, each through the command line (so any commit's code can run them, from a temporary git worktree):

* ``study_twin_small``: ``culturecart study --preset twin-small`` with the matching folds on (``results.parquet``);
* ``markets_study``: ``xmarket split`` of three small synthetic markets, then ``study --set data.markets=...``;
* ``calibrate``: ``culturecart calibrate --preset twin-small`` with 3 null and 1 planted replicate per scale;
* ``predictor``: ``fit`` (LightGBM and logistic regression) and ``predict`` on a simulated marketplace;
* ``xmarket_<model>``: ``xmarket fit`` of every ranker (all sources) and ``xmarket predict`` of the valid run.

Each figure set is reduced to a SHA-256 of its exact values (floats at full precision, in row order); with
``--reference COMMIT`` the reference code runs the same commands in the same script and ``identical`` says
whether every digest matches. ``--skip-xmarket-split-fixed`` leaves out the figures that depend on
``xmarket split``'s de-duplication (changed on purpose by hardening II).

Usage: python benchmarks/figures_unchanged.py [--reference COMMIT] [--out DIR] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _measure import emit

REPO = Path(__file__).resolve().parent.parent
RANKERS = ("popularity", "itemknn", "ease", "als", "bpr", "rerank")


def digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's exact values: every column, in row order, floats as their shortest exact repr."""
    h = hashlib.sha256()
    for col in sorted(frame.columns):
        h.update(str(col).encode())
        values = frame[col]
        if pd.api.types.is_float_dtype(values):
            h.update(np.ascontiguousarray(values.to_numpy(np.float64)).tobytes())
        else:
            h.update("\x1f".join(map(str, values.tolist())).encode())
    return h.hexdigest()[:16]


def write_ratings(folder: Path) -> Path:
    """Three small synthetic markets in the XMarket rating-file format (taste clusters over shared items)."""
    folder.mkdir(parents=True, exist_ok=True)
    for k, (market, users) in enumerate((("de", 60), ("fr", 45), ("jp", 50))):
        rng = np.random.default_rng(k)
        lines = ["userId itemId rate date"]
        for u in range(users):
            pool = [f"B{j:04d}" for j in range(90) if j % 3 == u % 3]
            for d, item in enumerate(rng.choice(pool, size=int(rng.integers(6, 11)), replace=False)):
                lines.append(f"{market}{u:03d} {item} {rng.integers(1, 6)} 2020-01-{d + 1:02d}")
        with gzip.open(folder / f"{market}_5core.txt.gz", "wt") as fh:
            fh.write("\n".join(lines) + "\n")
    return folder


class Runner:
    """Runs ``culturecart`` commands with the code of one source tree."""

    def __init__(self, src: Path, work: Path) -> None:
        self.src, self.work = src, work
        work.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "PYTHONPATH": str(src), "CULTURECART_CACHE": str(work / "cache"),
                    "OMP_WAIT_POLICY": "PASSIVE"}

    def __call__(self, *args: object) -> None:
        cmd = [sys.executable, "-c", "from culturecart.cli import app; app()", *map(str, args)]
        done = subprocess.run(cmd, env=self.env, cwd=self.work, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[3:])} failed ({done.returncode}) with {self.src}:\n{done.stderr[-3000:]}")


def figures(run: Runner, only: set[str] | None) -> dict[str, str]:
    w, out = run.work, {}

    def wanted(name: str) -> bool:
        return only is None or any(name.startswith(o) for o in only)

    if wanted("study_twin_small"):
        run("study", "--preset", "twin-small", "--out", w / "study", "--quiet", "--set", "matching.enabled=true",
            "--set", "matching.folds=2")
        out["study_twin_small"] = digest(pd.read_parquet(w / "study" / "results.parquet"))
    if wanted("calibrate"):
        run("calibrate", "--preset", "twin-small", "--out", w / "calib", "--replicates", 3, "--planted", 1,
            "--quiet", "--set", "rq5.enabled=false")
        out["calibrate"] = digest(pd.read_parquet(w / "calib" / "results.parquet"))
    if wanted("predictor"):
        run("simulate", "--out", w / "sim", "--users", 300, "--products", 80, "--seed", 7, "--quiet")
        run("simulate", "--out", w / "sim-new", "--users", 120, "--products", 80, "--seed", 8, "--quiet")
        (w / "fast.yaml").write_text("encoders: {text: {name: char-hash}, image: {name: image-hash}}\n"
                                     "options: {n_estimators: 60}\n", encoding="utf-8")
        for model, config in (("lightgbm", ["--config", w / "fast.yaml"]), ("logistic", [])):
            run("fit", w / "sim", "--model", model, "--out", w / f"pred-{model}", *config)
            run("predict", w / "sim-new", "--model-dir", w / f"pred-{model}", "--out", w / f"scores-{model}.parquet",
                "--quiet")
            out[f"predictor_{model}"] = digest(pd.read_parquet(w / f"scores-{model}.parquet"))
    if wanted("markets_study") or wanted("xmarket"):
        run("xmarket", "split", write_ratings(w / "ratings"), "--out", w / "xm", "--negatives", 30)
    if wanted("markets_study"):
        run("study", "--set", f"data.markets={w / 'xm'}", "--set", "ranking.n_boot=100", "--out", w / "mstudy",
            "--quiet")
        out["markets_study"] = digest(pd.read_parquet(w / "mstudy" / "results.parquet"))
    for model in RANKERS:
        if wanted(f"xmarket_{model}"):
            run("xmarket", "fit", w / "xm", "--target", "de", "--sources", "all", "--model", model,
                "--model-dir", w / f"xm-{model}")
            run("xmarket", "predict", "--model-dir", w / f"xm-{model}", "--run", w / "xm" / "de" / "valid_run.tsv",
                "--out", w / f"xm-{model}.tsv")
            out[f"xmarket_{model}"] = digest(pd.read_csv(w / f"xm-{model}.tsv", sep="\t", dtype={"userId": str,
                                                                                                 "itemId": str}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", help="a commit whose code runs the same commands in this script")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--only", nargs="*", help="figure names (or prefixes) to run")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="figures-"))
    only = set(args.only) if args.only else None
    t0 = time.perf_counter()
    here = figures(Runner(REPO / "src", root / "here"), only)
    result: dict = {"figures": here, "seconds": round(time.perf_counter() - t0, 1)}
    if args.reference:
        tree = root / "reference-tree"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.reference],
                       check=True, capture_output=True)
        try:
            ref = figures(Runner(tree / "src", root / "reference"), only)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
        result.update(reference=args.reference, reference_figures=ref,
                      differ=sorted(k for k in here if here[k] != ref.get(k)),
                      identical=all(here[k] == ref.get(k) for k in here))
    for name, value in here.items():
        print(f"{name:24s} {value}")
    emit(result)


if __name__ == "__main__":
    main()
