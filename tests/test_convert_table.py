"""``culturecart convert table``: a user's own flat CSV on the command line, then a study on what it writes."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from culturecart.data.dataset import Dataset
from culturecart.testing import flat_table
from tests.helpers import invoke

DATA = Path(os.environ.get("CULTURECART_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ROLE_OPTIONS = ["--label", "bought", "--user", "customer", "--item", "sku", "--country", "nation", "--time", "when",
                "--offer", "price,discount,category", "--text", "title", "--consumer", "age", "--behaviour", "dwell"]
QUICK_STUDY = ["rq1.models=[lightgbm]", "rq1.extra=[]", "rq1.subsets=full", "rq1.n_boot=10", "rq2.enabled=false",
               "rq3.n_boot=10", "rq3.min_test_rows=20", "rq5.enabled=false", "calibration=0",
               "encoders.text.name=char-hash", "encoders.image.name=image-hash"]  # calibration: not what this tests


def test_options_and_a_roles_file_write_the_same_dataset(tmp_path):
    src = tmp_path / "sessions.csv"
    flat_table(n_users=60).to_csv(src, index=False)
    invoke("convert", "table", src, *ROLE_OPTIONS, "--out", tmp_path / "a", exit_code=0, names=("wrote",))
    (tmp_path / "roles.yaml").write_text("label: bought\nuser: customer\nitem: sku\ncountry: nation\ntime: when\n"
                                         "offer: [price, discount, category]\ntext: [title]\nconsumer: [age]\n"
                                         "behaviour: [dwell]\n")
    invoke("convert", "table", src, "--roles", tmp_path / "roles.yaml", "--out", tmp_path / "b", exit_code=0)
    a, b = Dataset.load(tmp_path / "a"), Dataset.load(tmp_path / "b")
    for name in ("users", "items", "events"):
        pd.testing.assert_frame_equal(a.table(name), b.table(name))
    invoke("convert", "table", src, "--label", "bought", "--out", tmp_path / "c", exit_code=2, names=("--item",))
    invoke("convert", "table", src, *ROLE_OPTIONS, "--roles", tmp_path / "roles.yaml", "--out", tmp_path / "d",
           exit_code=2, names=("not both",))
    invoke("convert", "table", src, "--item", "sku", "--user", "customer", "--offer", "price,colour", "--out",
           tmp_path / "e", exit_code=2, names=("colour",))
    invoke("convert", "table", tmp_path / "nowhere.csv", "--item", "sku", "--user", "customer", "--out",
           tmp_path / "f", exit_code=1, names=("nowhere.csv",))


@pytest.mark.slow
def test_a_study_runs_on_a_converted_flat_export(tmp_path):
    src = tmp_path / "sessions.csv"
    flat_table(n_users=150).to_csv(src, index=False)
    invoke("convert", "table", src, *ROLE_OPTIONS, "--out", tmp_path / "data", exit_code=0)
    sets = [a for o in QUICK_STUDY for a in ("--set", o)]
    invoke("study", "--set", f"data.path={tmp_path / 'data'}", *sets, "--out", tmp_path / "run", exit_code=0,
           names=("report:",))
    assert (tmp_path / "run" / "findings.json").is_file()


@pytest.mark.slow
def test_a_real_flat_file_converts_and_runs(tmp_path):
    src = DATA / "womens_clothing_reviews" / "womens_clothing_ecommerce_reviews.csv.gz"
    if not src.exists():
        pytest.skip(f"{src} is absent (set CULTURECART_DATA to the shared data folder)")
    invoke("convert", "table", src, "--label", "Recommended IND", "--item", "Clothing ID", "--session", "@row",
           "--consumer", "Age", "--text", "Title,Review Text", "--offer", "Department Name", "--behaviour",
           "Division Name,Class Name,Positive Feedback Count", "--limit", "4000", "--out", tmp_path / "data",
           exit_code=0, names=("Rating",))  # the one column given no role is named
    sets = [a for o in QUICK_STUDY for a in ("--set", o)]
    invoke("study", "--set", f"data.path={tmp_path / 'data'}", *sets, "--out", tmp_path / "run", exit_code=0)
    findings = (tmp_path / "run" / "findings.md").read_text("utf-8")
    assert "RQ1" in findings
