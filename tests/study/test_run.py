import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from culturecart.data import Dataset
from culturecart.errors import InvalidInputError
from culturecart.study.config import load_config
from culturecart.study.run import TIDY_COLUMNS, run_study
from tests.conftest import STUDY_FAST as FAST


def test_study_writes_every_output(small_study):
    out = small_study.out
    for name in ("results.parquet", "config.resolved.yaml", "report.html", "rq1_table.csv", "rq3_winners.csv",
                 "rq4_effects.csv", "rq4_literature.csv", "rq5_curves.csv"):
        assert (out / name).exists(), name
    results = pd.read_parquet(out / "results.parquet")
    assert list(results.columns) == TIDY_COLUMNS
    assert {"RQ1", "RQ2", "RQ3", "RQ4", "RQ5", "M"} <= set(results["question"])
    ladder = results[results["question"] == "M"]
    assert ladder["model"].iloc[-1] == "+pair model" and (ladder["value"] > 0.3).all()
    auc = results[(results["question"] == "RQ1") & (results["metric"] == "roc_auc")]
    assert (auc["ci_low"] <= auc["value"]).all() and (auc["value"] <= auc["ci_high"]).all()
    assert (out / "models" / "rq1-lightgbm" / "model.json").exists()
    assert load_config(out / "config.resolved.yaml").rq1.n_boot == 20  # the resolved config loads back


def test_rerun_reuses_every_unit_and_gives_the_same_table(small_study, tmp_path):
    again = run_study(load_config(preset="twin-small", overrides=FAST), small_study.out, quiet=True)
    assert again.units_computed == 0 and again.units_reused == small_study.units_computed
    pd.testing.assert_frame_equal(again.tables["results"], small_study.tables["results"])


@pytest.mark.slow
def test_killed_study_resumes_to_identical_results(small_study, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "culturecart.cli", "study", "--preset", "twin-small", "--out", str(out), "--quiet"]
    for item in FAST:
        cmd += ["--set", item]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline and len(list((out / "units").glob("rq1-*"))) < 5:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(list((out / "units").glob("rq1-*"))) >= 5, "the study never got to RQ1"
    assert not (out / "results.parquet").exists(), "killed too late: the run had finished"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "report:" in done.stdout
    resumed = pd.read_parquet(out / "results.parquet")
    pd.testing.assert_frame_equal(resumed, pd.read_parquet(small_study.out / "results.parquet"))


def test_bad_dataset_is_refused_naming_the_problem(sim_dir, tmp_path):
    ds = Dataset.load(sim_dir)
    ds.items.loc[3, "price"] = -5.0
    ds.save(tmp_path / "bad", overwrite=True)
    cfg = load_config(overrides=[f"data.path={tmp_path / 'bad'}", "data.check_images=false"])
    with pytest.raises(InvalidInputError, match=r"items\.price"):
        run_study(cfg, tmp_path / "out", quiet=True)
    with pytest.raises(InvalidInputError, match="not a folder"):
        run_study(load_config(overrides=[f"data.path={tmp_path / 'missing'}"]), tmp_path / "out2", quiet=True)
    assert not (tmp_path / "out").exists() and not (tmp_path / "out2").exists()  # nothing half-created


def test_one_country_data_skips_culture_with_a_caveat(sim_dir, tmp_path):
    ds = Dataset.load(sim_dir)
    ds.users["country"] = "DE"
    ds.save(tmp_path / "de", overwrite=True)
    cfg = load_config(overrides=[f"data.path={tmp_path / 'de'}", "data.check_images=false", "rq1.models=[lightgbm]",
                                 "rq1.subsets=full", "rq1.extra=[]", "rq1.n_boot=10", "encoders.text.name=char-hash",
                                 "encoders.image.name=image-hash"])
    res = run_study(cfg, tmp_path / "out", quiet=True)
    assert any("Fewer than two countries" in n for n in res.notes)
    assert "RQ3" not in set(res.tables["results"]["question"])
    assert Path(tmp_path / "out" / "report.html").exists()
