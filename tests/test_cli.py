"""The command line: simulate, validate (and reject a corrupted copy), convert."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from culturecart.cli import app

runner = CliRunner()


def test_simulate_then_validate(tmp_path: Path):
    out = tmp_path / "market"
    result = runner.invoke(app, ["simulate", "--out", str(out), "--users", "80", "--products", "30",
                                 "--countries", "KR,US,DE"])
    assert result.exit_code == 0, result.output
    assert (out / "truth.json").exists() and (out / "matching" / "shopee.csv").exists()
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0 and "valid" in result.output
    again = runner.invoke(app, ["simulate", "--out", str(out), "--users", "10"])
    assert again.exit_code == 2 and "exists" in again.output


def test_simulate_and_convert_report_progress_on_stderr_unless_quiet(tmp_path: Path, sim_dir: Path):
    loud = runner.invoke(app, ["simulate", "--out", str(tmp_path / "a"), "--users", "40", "--products", "12"])
    steps = [line for line in loud.stderr.splitlines() if line.startswith("simulate: ")]
    assert [s.split(" ")[1] for s in steps] == ["1/5", "2/5", "3/5", "4/5", "5/5"] and "events" in steps[3]
    assert "simulate:" not in loud.stdout and loud.stdout.startswith("wrote ")
    quiet = runner.invoke(app, ["simulate", "--out", str(tmp_path / "b"), "--users", "40", "--products", "12", "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    shopee = sim_dir / "matching" / "shopee.csv"
    converted = runner.invoke(app, ["convert", "shopee", str(shopee), "--out", str(tmp_path / "c")])
    assert converted.exit_code == 0, converted.output
    assert [line.split(" ")[2] for line in converted.stderr.splitlines()] == ["1/2", "2/2"]


def test_validate_rejects_corrupted_copy_naming_column_and_row(tmp_path: Path, sim_dir: Path):
    bad = tmp_path / "bad"
    shutil.copytree(sim_dir, bad)
    items = pd.read_parquet(bad / "items.parquet")
    items.loc[5, "price"] = -3.0
    items.to_parquet(bad / "items.parquet")
    users = pd.read_parquet(bad / "users.parquet")
    users.loc[3, "country"] = "XX"
    users.to_parquet(bad / "users.parquet")
    (bad / items.loc[7, "image_path"]).write_bytes(b"\x89PNG broken")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "items.price: must be >= 0; row 5" in result.output
    assert "users.country: unknown ISO 3166 alpha-2 country code; row 3" in result.output
    assert "items.image_path: image cannot be decoded" in result.output and "row 7" in result.output


def test_convert_unknown_format_lists_valid_ones(tmp_path: Path):
    result = runner.invoke(app, ["convert", "nope", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "shoppers" in result.output


def test_convert_shopee_file(tmp_path: Path):
    src = tmp_path / "train.csv"
    src.write_text("posting_id,image,image_phash,title,label_group\n"
                   "a,a.jpg,94974f937d4c2433,Kaos \\xc3\\x89lite,1\n"
                   "b,b.jpg,af3f9460c2838f0f,Kaos Elite,1\n")
    result = runner.invoke(app, ["convert", "shopee", str(src), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    items = pd.read_parquet(tmp_path / "ds" / "items.parquet")
    assert items.loc[0, "title"] == "Kaos Élite"


def test_encode_dataset_twice_hits_the_cache(tmp_path: Path, sim_dir: Path, monkeypatch):
    monkeypatch.setenv("CULTURECART_CACHE", str(tmp_path / "cache"))
    args = ["encode", str(sim_dir), "--out", str(tmp_path / "emb"), "--text", "char-hash", "--image", "image-hash"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert {p.name for p in (tmp_path / "emb").iterdir()} == {
        "items.title.npz", "reviews.text.npz", "items.image_path.npz", "reviews.image_path.npz"}
    second = runner.invoke(app, args)
    assert second.output.count("(0 computed") == 4

    from culturecart.encoders.dataset import load_embeddings

    ids, emb = load_embeddings(tmp_path / "emb" / "reviews.image_path.npz")
    reviews = pd.read_parquet(sim_dir / "reviews.parquet")
    assert list(ids) == reviews["review_id"].tolist()
    assert emb.mask.tolist() == reviews["image_path"].notna().tolist()  # no photo -> masked, not zero


def test_encode_rejects_unknown_encoder(sim_dir: Path):
    result = runner.invoke(app, ["encode", str(sim_dir), "--text", "bert"])
    assert result.exit_code == 2 and "use-m3" in result.output


def test_rq1_grid_command(tmp_path: Path, sim_dir: Path, monkeypatch):
    monkeypatch.setenv("CULTURECART_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["rq1", str(sim_dir), "--out", str(tmp_path / "rq1"), "--models", "logistic,tfidf",
                                 "--subsets", "full", "--text", "char-hash", "--image", "image-hash",
                                 "--n-boot", "20", "--split", "item"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "rq1" / "rq1_table.csv")
    assert set(table["split"]) == {"item"} and "roc_auc" in set(table["metric"])
    assert {"logistic", "ngram_logistic"} <= set(table["model"])  # the n-gram model got the raw text it reads
    bad = runner.invoke(app, ["rq1", str(sim_dir), "--out", str(tmp_path / "x"), "--models", "bert"])
    assert bad.exit_code == 2 and "lightgbm" in bad.output


def test_a_closed_stdout_pipe_exits_quietly_with_141(tmp_path):
    """`culturecart ... | head -1`: the reader goes away; no traceback, no crash file, exit 141 (128 + SIGPIPE)."""
    import subprocess
    import sys

    for args in (["convert", "--help"], ["fit", "--help"]):
        proc = subprocess.Popen([sys.executable, "-m", "culturecart.cli", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**__import__("os").environ, "TMPDIR": str(tmp_path)})
        proc.stdout.readline()
        proc.stdout.close()  # as `head -1` does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 141 and err == "", err
    assert not list(tmp_path.glob("culturecart-crash-*"))
