"""Hardening II, 2 and 12: a study never serves stale units after its images change, and small or odd designs
give a report that says what could not be estimated instead of a crash."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from culturecart.study.config import load_config
from culturecart.study.run import run_study
from tests.helpers import invoke, write_market

pytestmark = pytest.mark.slow

QUICK = ["encoders.text.name=char-hash", "encoders.image.name=image-hash", "embedding_dim=4", "rq1.models=[logistic]",
         "rq1.extra=[]", "rq1.subsets=full", "rq1.n_boot=10", "rq2.enabled=false", "rq3.enabled=false",
         "rq4.enabled=false", "rq5.enabled=false", "parallel.n_jobs=1"]


def test_changing_every_image_recomputes_the_units(tiny_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_dir, data)
    cfg = load_config(overrides=[f"data.path={data}", *QUICK])
    first = run_study(cfg, tmp_path / "run", quiet=True)
    images = sorted((data / "images").glob("*.png"))
    for a, b in zip(images, images[1:] + images[:1], strict=True):  # every image now shows another product
        a.write_bytes(b.read_bytes()) if a != b else None
    again = run_study(cfg, tmp_path / "run", quiet=True)
    assert again.units_computed == first.units_computed and again.units_reused == 0


def test_markets_without_countries_and_a_market_without_test_users(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for k, (m, users) in enumerate((("m1", 30), ("m2", 25), ("m3", 20))):
        write_market(src, m, users, seed=k)
    root = tmp_path / "xm"
    invoke("xmarket", "split", src, "--out", root, "--negatives", 20, exit_code=0)
    for name in ("test_qrel.tsv", "test_run.tsv"):  # m3's test lists emptied: a source only
        lines = (root / "m3" / name).read_text().splitlines()
        (root / "m3" / name).write_text(lines[0] + "\n")
    res = invoke("study", "--set", f"data.markets={root}", "--set", "ranking.n_boot=50", "--out", tmp_path / "run",
                 exit_code=0, names=("no Mantel test",))
    assert "m3" not in set(pd.read_csv(tmp_path / "run" / "rq3_winners.csv")["market"]), res.output


def test_few_resamples_and_one_country_give_a_report_not_a_crash(tmp_path):
    res = invoke("study", "--preset", "twin-small", "--set", "rq1.n_boot=10", "--set", "rq3.n_boot=10", "--set",
                 "rq4.n_boot=10", "--set", "rq4.min_rows=1000000", "--set", "rq5.enabled=false", "--out",
                 tmp_path / "run", exit_code=0)
    report = (tmp_path / "run" / "report.html").read_text()
    assert "RQ4 logit not estimated" in report and "no country has" in report, res.output
    assert json.loads((tmp_path / "run" / "timings.json").read_text())
