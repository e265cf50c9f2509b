"""Hardening II, 1: no command writes into, over or replaces a file or folder it reads, whichever way the path is
spelt (a symlink to the input, a ``..`` detour): exit 2 before any work, and every input byte-identical after."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from tests.helpers import invoke, write_market


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def data(tiny_dir, tmp_path):
    """A copy of the tiny dataset, a symlink to it, and the same folder reached through ``..``."""
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(tiny_dir, copy)
    (tmp_path / "alias").symlink_to(copy)
    (tmp_path / "sub").mkdir()
    return copy, tmp_path / "alias", tmp_path / "sub" / ".." / "data"


@pytest.fixture
def fitted(data, tmp_path):
    copy, _, _ = data
    cfg = tmp_path / "fast.yaml"
    cfg.write_text("encoders: {text: {name: char-hash}, image: {name: image-hash}}\noptions: {n_estimators: 10}\n")
    invoke("fit", copy, "--config", cfg, "--out", tmp_path / "model", exit_code=0)
    return tmp_path / "model"


@pytest.mark.parametrize("alias", [0, 1, 2], ids=["plain", "symlink", "dotdot"])
def test_predict_never_writes_into_its_dataset_or_model(data, fitted, alias):
    folder = data[alias]
    before, model_before = _digest(data[0]), _digest(fitted)
    for out in (folder / "events.parquet", folder / "scores.parquet", fitted / "scores.csv"):
        invoke("predict", folder, "--model-dir", fitted, "--out", out, exit_code=2, names=("which this command reads",))
    assert _digest(data[0]) == before and _digest(fitted) == model_before


@pytest.mark.parametrize("alias", [0, 1, 2], ids=["plain", "symlink", "dotdot"])
def test_fit_never_replaces_its_own_input(data, tmp_path, alias):
    folder = data[alias]
    before = _digest(data[0])
    invoke("fit", folder, "--out", folder, "--overwrite", exit_code=2, names=("which this command reads",))
    invoke("fit", folder, "--out", folder / "model", exit_code=2, names=("is inside",))
    invoke("fit", data[0] / "..", "--out", tmp_path, "--overwrite", exit_code=2)  # a folder holding the input
    invoke("fit", folder, "--out", data[0].parent, "--overwrite", exit_code=2, names=("holds",))
    assert _digest(data[0]) == before


def test_study_out_may_not_be_or_hold_its_data(data, tmp_path):
    copy, alias, dotdot = data
    before = _digest(copy)
    for out in (copy, alias, dotdot, copy / "run", tmp_path):
        invoke("study", "--set", f"data.path={alias}", "--out", out, exit_code=2, names=("which this command reads",))
    assert _digest(copy) == before
    assert not (copy / "timings.json").exists() and not (copy / "config.resolved.yaml").exists()


def test_xmarket_split_and_predict_never_write_over_their_inputs(tmp_path):
    src = tmp_path / "ratings"
    src.mkdir()
    for k, (m, users) in enumerate((("de", 20), ("fr", 15))):
        write_market(src, m, users, seed=k)
    before = _digest(src)
    invoke("xmarket", "split", src, "--out", src, "--overwrite", exit_code=2, names=("which this command reads",))
    os.symlink(src, tmp_path / "alias")
    invoke("xmarket", "split", tmp_path / "alias", "--out", src / "xm", exit_code=2, names=("is inside",))
    assert _digest(src) == before
    root = tmp_path / "xm"
    invoke("xmarket", "split", src, "--out", root, exit_code=0)
    invoke("xmarket", "fit", root, "--target", "de", "--model", "popularity", "--model-dir", root / "m", exit_code=2,
           names=("is inside",))
    invoke("xmarket", "fit", root, "--target", "de", "--model", "popularity", "--model-dir", tmp_path / "m",
           exit_code=0)
    markets_before = _digest(root)
    for out in (root / "de" / "train.tsv", root / "de" / "valid_run.tsv", tmp_path / "m" / "scores.tsv"):
        invoke("xmarket", "predict", "--model-dir", tmp_path / "m", "--run", root / "de" / "valid_run.tsv", "--out",
               out, exit_code=2, names=("which this command reads",))
    assert _digest(root) == markets_before


def test_convert_encode_and_match_refuse_their_inputs(data, tmp_path, sim_dir):
    copy, alias, _ = data
    shopee = sim_dir / "matching" / "shopee.csv"
    invoke("convert", "shopee", shopee, "--out", shopee.parent, "--overwrite", exit_code=2, names=("holds",))
    invoke("encode", alias, "--out", copy, exit_code=2, names=("which this command reads",))
    invoke("match", "fit", "--train", shopee, "--model-dir", shopee.parent, "--overwrite", exit_code=2,
           names=("holds",))
