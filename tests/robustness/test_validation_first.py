"""Items 3, 4 and 5: every command validates first; what a study cannot use is a validation error;
a refused run creates nothing."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import invoke, set_cell

FAST = ["--text", "char-hash", "--image", "image-hash", "--n-boot", "10"]


def test_rq1_refuses_non_numeric_prices(damaged, tmp_path):
    bad = damaged("items", set_cell("price", 3, "cheap"))
    invoke("rq1", bad, "--out", tmp_path / "rq1", *FAST, exit_code=1, names=("items.price", "row 3", "'cheap'"))
    assert not (tmp_path / "rq1").exists()


def test_rq1_refuses_a_missing_label_column(damaged, tmp_path):
    bad = damaged("events", lambda f: f.drop(columns=["purchased"]))
    invoke("rq1", bad, "--out", tmp_path / "rq1", *FAST, exit_code=1,
           names=("events.purchased", "required column is missing"))
    assert not (tmp_path / "rq1").exists()


CANNOT_SERVE = {
    "infinite price": ("items", set_cell("price", 1, np.inf), ("items.price", "infinite", "row 1")),
    "infinite behaviour value": ("events", lambda f: f.assign(bhv_score=[1.0] * (len(f) - 1) + [-np.inf]),
                                 ("events.bhv_score", "infinite")),
    "events without rows": ("events", lambda f: f.iloc[:0], ("events: table is empty",)),
    "one class only": ("events", lambda f: f.assign(purchased=0), ("events.purchased", "same label")),
}


@pytest.mark.parametrize("case", CANNOT_SERVE, ids=list(CANNOT_SERVE))
def test_validate_and_study_refuse_what_a_study_cannot_use(damaged, tmp_path, case):
    table, change, names = CANNOT_SERVE[case]
    bad = damaged(table, change)
    invoke("validate", bad, "--no-images", exit_code=1, names=names)
    invoke("study", "--set", f"data.path={bad}", "--out", tmp_path / "out", exit_code=1, names=names)
    assert not (tmp_path / "out").exists()


def test_no_events_table(damaged, tmp_path):
    bad = damaged()
    (bad / "events.parquet").unlink()
    (bad / "groups.parquet").unlink()
    invoke("validate", bad, "--no-images", exit_code=1, names=("events",))
    invoke("validate", bad, "--no-images", "--for", "any", exit_code=0)
    invoke("study", "--set", f"data.path={bad}", "--out", tmp_path / "out", exit_code=1,
           names=("needs an events table",))
    assert not (tmp_path / "out").exists()


def test_refused_study_leaves_no_output_folder(tmp_path):
    invoke("study", "--set", f"data.path={tmp_path / 'nowhere'}", "--out", tmp_path / "out", exit_code=1,
           names=("nowhere", "not a folder"))
    invoke("study", "--preset", "twin-small", "--set", "rq1.n_boot=3", "--out", tmp_path / "out", exit_code=2,
           names=("rq1.n_boot",))
    assert not (tmp_path / "out").exists()
