"""Hardening II, 14 and 15: a device or a named pipe named as an image never blocks or floods a command (one image
path with the checks ``validate`` makes); all-empty columns are left out with one warning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from culturecart.data.image_file import ImageFileError, checked_image_path, read_image_bytes
from tests.helpers import invoke


def test_the_one_image_path_refuses_devices_pipes_folders_and_huge_files(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for path, reason in (("/dev/zero", "a device"), (fifo, "a named pipe"), (tmp_path, "a folder"),
                         (tmp_path / "missing.png", "does not exist")):
        with pytest.raises(ImageFileError, match=reason):
            read_image_bytes(path)
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(300 * 1024 ** 2)  # sparse: no disk used
    with pytest.raises(ImageFileError, match="above the limit"):
        checked_image_path(big)


@pytest.fixture
def hostile(tiny_dir, tmp_path):
    """The tiny dataset with image_roots ["/"], one item's image /dev/zero and another's a named pipe."""
    copy = tmp_path / "hostile"
    shutil.copytree(tiny_dir, copy)
    os.mkfifo(copy / "pipe.png")
    items = pd.read_parquet(copy / "items.parquet")
    items.loc[0, "image_path"] = "/dev/zero"
    items.loc[1, "image_path"] = "pipe.png"
    items.to_parquet(copy / "items.parquet", index=False)
    meta = json.loads((copy / "dataset.json").read_text())
    meta["image_roots"] = ["/"]
    (copy / "dataset.json").write_text(json.dumps(meta))
    return copy


def _run(*args, timeout=120):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "culturecart.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CULTURECART_CACHE": str(args[-1]) + "-cache"})
    return done, time.perf_counter() - started


def test_validate_encode_fit_and_predict_never_read_a_device_or_block_on_a_pipe(hostile, tmp_path):
    invoke("validate", hostile, exit_code=1, names=("/dev/zero", "a device", "pipe.png", "a named pipe"))
    done, seconds = _run("encode", hostile, "--text", "char-hash", "--image", "image-hash", "--out",
                         tmp_path / "emb")
    assert done.returncode == 0, done.stderr
    assert "/dev/zero" in done.stderr and "named pipe" in done.stderr and seconds < 60
    cfg = tmp_path / "fast.yaml"
    cfg.write_text("encoders: {text: {name: char-hash}, image: {name: image-hash}}\noptions: {n_estimators: 10}\n")
    done, _ = _run("fit", hostile, "--config", cfg, "--out", tmp_path / "m")
    assert done.returncode == 0, done.stderr
    done, _ = _run("predict", hostile, "--model-dir", tmp_path / "m", "--out", tmp_path / "s.csv")
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(tmp_path / "s.csv")) == len(pd.read_parquet(hostile / "events.parquet"))


def test_all_empty_columns_are_left_out_with_one_warning(tiny_dir, tmp_path):
    copy = tmp_path / "wide"
    shutil.copytree(tiny_dir, copy)
    events = pd.read_parquet(copy / "events.parquet")
    empty = pd.DataFrame(np.full((len(events), 20_000), np.nan, np.float32),
                         columns=[f"bhv_empty_{i}" for i in range(20_000)])
    pd.concat([events, empty], axis=1).to_parquet(copy / "events.parquet", index=False)
    cfg = tmp_path / "fast.yaml"
    cfg.write_text("encoders: {text: {name: char-hash}, image: {name: image-hash}}\noptions: {n_estimators: 10}\n")
    started = time.perf_counter()
    res = invoke("fit", copy, "--config", cfg, "--out", tmp_path / "m", exit_code=0,
                 names=("20,000 column(s) have no values", "events.bhv_empty_0"))
    assert res.output.count("have no values") == 1 and time.perf_counter() - started < 120
    names = json.loads((tmp_path / "m" / "predictor.json").read_text())["state"]["feature_names"]
    assert not any("bhv_empty" in n for n in names["behaviour"])
