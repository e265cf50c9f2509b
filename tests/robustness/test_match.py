"""Items 9, 10 and 11: match fit checks its output first; damaged models, inputs and submissions are named;
wrong submissions are refused, not scored."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from tests.helpers import invoke


@pytest.fixture(scope="module")
def listings(tiny_dir):
    return tiny_dir / "matching" / "shopee.csv"


@pytest.fixture(scope="module")
def model(listings, tmp_path_factory):
    folder = tmp_path_factory.mktemp("match") / "model"
    invoke("match", "fit", "--train", listings, "--model-dir", folder, "--text", "char-hash", "--inner-folds", "2",
           exit_code=0)
    return folder


def test_fit_checks_the_model_dir_before_any_work(listings, tmp_path):
    taken = tmp_path / "file"
    taken.write_text("mine")
    invoke("match", "fit", "--train", listings, "--model-dir", taken, exit_code=2, names=("is a file",))
    assert taken.read_text() == "mine"
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    invoke("match", "fit", "--train", listings, "--model-dir", busy, exit_code=2, names=("--overwrite",))
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]


def test_fit_overwrite_replaces_the_folder_whole(listings, model, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("foreign")
    invoke("match", "fit", "--train", listings, "--model-dir", busy, "--text", "char-hash", "--inner-folds", "2",
           "--overwrite", exit_code=0)
    assert not (busy / "notes.txt").exists()
    assert {p.name for p in busy.iterdir()} == {p.name for p in model.iterdir()}


def test_inner_folds_below_two_is_a_usage_error(listings, tmp_path):
    res = invoke("match", "fit", "--train", listings, "--model-dir", tmp_path / "m", "--inner-folds", "1",
                 exit_code=2, names=("--inner-folds",))
    assert "label groups" not in res.output


DAMAGE = {
    "invalid json": ("matching.json", lambda p: p.write_text("{not json"), "matching.json"),
    "missing key": ("matching.json", lambda p: p.write_text(json.dumps(
        {k: v for k, v in json.loads(p.read_text()).items() if k != "state"})), "matching.json"),
    "truncated safetensors": ("arcface.safetensors", lambda p: p.write_bytes(p.read_bytes()[:100]),
                              "arcface.safetensors"),
    "truncated pair scorer": ("pair_scorer.txt", lambda p: p.write_text(p.read_text()[:50]), "pair_scorer"),
}


@pytest.mark.parametrize("case", DAMAGE, ids=list(DAMAGE))
def test_damaged_model_folder_is_named(model, listings, tmp_path, case):
    name, damage, names = DAMAGE[case]
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    damage(broken / name)
    out = tmp_path / "sub.csv"
    invoke("match", "predict", "--model-dir", broken, "--input", listings, "--out", out, exit_code=1,
           names=("damaged", names))
    assert not out.exists()


def test_header_only_input(model, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("posting_id,image,image_phash,title\n")
    invoke("match", "predict", "--model-dir", model, "--input", empty, "--out", tmp_path / "s.csv", exit_code=1,
           names=("empty.csv", "no data rows"))
    invoke("match", "score", "--input", empty, "--submission", empty, exit_code=1, names=("no data rows",))


@pytest.fixture(scope="module")
def submission(model, listings, tmp_path_factory):
    out = tmp_path_factory.mktemp("sub") / "sub.csv"
    invoke("match", "predict", "--model-dir", model, "--input", listings, "--out", out, exit_code=0)
    return out


def test_empty_or_missing_submission(listings, tmp_path):
    empty = tmp_path / "sub.csv"
    empty.write_text("")
    invoke("match", "score", "--input", listings, "--submission", empty, exit_code=1, names=("sub.csv", "empty"))
    invoke("match", "score", "--input", listings, "--submission", tmp_path / "none.csv", exit_code=1,
           names=("none.csv", "does not exist"))


def _write(frame: pd.DataFrame, path):
    frame.to_csv(path, index=False)
    return path


def test_half_missing_submission_needs_allow_missing(listings, submission, tmp_path):
    sub = pd.read_csv(submission, dtype=str)
    half = _write(sub.iloc[: len(sub) // 2], tmp_path / "half.csv")
    invoke("match", "score", "--input", listings, "--submission", half, exit_code=1,
           names=("half.csv", "have no row", "--allow-missing"))
    res = invoke("match", "score", "--input", listings, "--submission", half, "--allow-missing", exit_code=0)
    scored = json.loads(res.stdout.strip().splitlines()[-1])
    assert scored["missing"] == len(sub) - len(sub) // 2 and scored["rows"] == len(sub)


def test_duplicate_and_unknown_ids_are_refused(listings, submission, tmp_path):
    sub = pd.read_csv(submission, dtype=str)
    dup = _write(pd.concat([sub, sub.head(1)]), tmp_path / "dup.csv")
    invoke("match", "score", "--input", listings, "--submission", dup, exit_code=1, names=("duplicate posting_id",))
    ghost = sub.copy()
    ghost.loc[0, "matches"] = ghost.loc[0, "matches"] + " ghost-id"
    ghost_path = _write(ghost, tmp_path / "ghost.csv")
    invoke("match", "score", "--input", listings, "--submission", ghost_path, exit_code=1,
           names=("'ghost-id'", "not among the scored listings"))
