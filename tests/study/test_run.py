import json
import os
import shutil
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
from tests.helpers import STUDY_FAST as FAST


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
    assert load_config(out / "config.resolved.yaml").rq1.n_boot == 20  # the resolved config loads back
    made = {p.name for p in (out / "models").iterdir()}
    assert {"rq1-lightgbm", "rq1-logistic", "rq3-global", "rq3-local", "rq3-culture"} <= made
    assert all((out / "models" / name / "predictor.json").exists() for name in made)


def test_the_matching_folds_read_the_studys_own_embedding_cache(small_study):
    # The study encoded the same titles and images before the folds ran: they find them in OUT/cache and put
    # nothing in the user's default cache.
    assert not list((small_study.default_cache / "embeddings").rglob("*.npy"))
    folders = {p.name.split("-v")[0] for p in (small_study.out / "cache" / "embeddings").iterdir()}
    assert {small_study.config.encoders.text.name, "effnet-lite0"} <= folders


def test_a_study_model_scores_data_from_the_command_line(small_study, tmp_path):
    from tests.helpers import invoke

    out = small_study.out
    for name in ("rq1-lightgbm", "rq3-local"):
        res = invoke("predict", out / "data", "--model-dir", out / "models" / name, "--out", tmp_path / f"{name}.csv",
                     "--evaluate", exit_code=0)
        assert json.loads(res.stdout.strip().splitlines()[-1])["auc"] > 0.55


def test_a_rerun_with_another_config_never_uses_the_old_models(small_study, tmp_path):
    out = tmp_path / "rerun"
    shutil.copytree(small_study.out, out)
    old = json.loads((out / "models" / "rq1-lightgbm" / "predictor.json").read_text())
    changed = run_study(load_config(preset="twin-small", overrides=[
        *FAST, "rq1.subsets=full", "rq1.extra=[]", "rq1.model_options={lightgbm: {num_leaves: 7}}", "rq3.enabled=false",
        "rq5.enabled=false", "matching.enabled=false"]), out, quiet=True)
    new = json.loads((out / "models" / "rq1-lightgbm" / "predictor.json").read_text())
    assert new["config"]["options"] == {"num_leaves": 7} and new["state"]["study_unit"] != old["state"]["study_unit"]
    assert {p.name for p in (out / "models").iterdir()} == {"rq1-lightgbm"}  # no model of the old config is left
    assert "rq4_partial_dependence" not in changed.tables  # RQ3 off: RQ4 does not explain an old global model
    assert "rq2_treeshap" in changed.tables


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


def test_progress_shows_one_line_per_finished_unit_off_a_terminal(tmp_path, capsys):
    from culturecart.study.run import _Reporter
    from culturecart.study.store import Unit, UnitStore

    store = UnitStore(tmp_path / "units")
    units = [Unit("demo", f"u{i}", {"i": i}, pow, (i, 2)) for i in range(3)]
    assert store.run(units, _Reporter(quiet=False)) == [0, 1, 4]
    err = capsys.readouterr().err
    assert "demo: 3 unit(s) to compute" in err and "demo: 3/3 done (demo u2)" in err
    assert "demo: 1/3 done (demo u0); fitting demo u1" in err  # the unit in flight is named
    store.run([Unit("demo", "u9", {"i": 9}, pow, (9, 2))], _Reporter(quiet=True))
    assert capsys.readouterr().err == ""


def test_the_driver_plans_without_the_model_code():
    """A study's driver only plans units and combines their results: torch, LightGBM and faiss load in the
    workers, never in the driver, where importing them would hold up the first unit by seconds."""
    code = ("import sys\n"
            "import culturecart.study.run, culturecart.matching.ladder\n"
            "from culturecart.study.stages import _fit_cost\n"
            "print(_fit_cost('transformer', ('offer',), {'epochs': 3}), _fit_cost('mlp', ('offer', 'text'), {}))\n"
            "print(sorted(m for m in ('torch', 'lightgbm', 'faiss') if m in sys.modules))\n")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.split("\n")[:2] == ["30.0 12.0", "[]"]
