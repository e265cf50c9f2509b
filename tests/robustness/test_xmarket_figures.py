"""Hardening II, 3, 4, 5, 6 and 13 on the cross-market commands: no wrong figure with exit 0 (doubled scores,
several positives, a leaking split, a model applied to another market), damaged model files named, the right
column named."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from culturecart.ranking.markets import deduplicate, split_markets
from tests.helpers import invoke, write_market


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    src = tmp_path_factory.mktemp("ratings")
    for k, (m, users) in enumerate((("de", 30), ("fr", 25), ("jp", 20))):
        write_market(src, m, users, seed=k)
    root = tmp_path_factory.mktemp("xm") / "root"
    invoke("xmarket", "split", src, "--out", root, "--negatives", 20, exit_code=0)
    model = root.parent / "model"
    invoke("xmarket", "fit", root, "--target", "de", "--model", "itemknn", "--sources", "all", "--model-dir", model,
           exit_code=0)
    scores = root.parent / "scores.tsv"
    invoke("xmarket", "predict", "--model-dir", model, "--run", root / "de" / "valid_run.tsv", "--out", scores,
           exit_code=0)
    return root, model, scores


def test_doubled_scores_and_several_positives_are_errors_naming_rows(layout, tmp_path):
    root, _, scores = layout
    qrel = root / "de" / "valid_qrel.tsv"
    ok = invoke("xmarket", "score", "--scores", scores, "--qrel", qrel, exit_code=0)
    doubled = tmp_path / "doubled.tsv"
    frame = pd.read_csv(scores, sep="\t", dtype=str)
    pd.concat([frame, frame]).to_csv(doubled, sep="\t", index=False)
    invoke("xmarket", "score", "--scores", doubled, "--qrel", qrel, exit_code=1,
           names=("appears more than once", "rows [0, 1, 2"))
    two = tmp_path / "two_positives.tsv"
    q = pd.read_csv(qrel, sep="\t", dtype=str)
    extra = q.iloc[:1].assign(itemId=frame[frame["userId"] == q["userId"].iat[0]]["itemId"].iat[1])
    pd.concat([q, extra]).to_csv(two, sep="\t", index=False)
    invoke("xmarket", "score", "--scores", scores, "--qrel", two, exit_code=1, names=("more than once", "one held-out"))
    assert "nDCG@10" in ok.stdout


def test_a_non_numeric_score_names_the_score_column(layout, tmp_path):
    root, _, scores = layout
    bad = tmp_path / "bad.tsv"
    frame = pd.read_csv(scores, sep="\t", dtype=str)
    frame.loc[3, "score"] = "high"
    frame.to_csv(bad, sep="\t", index=False)
    res = invoke("xmarket", "score", "--scores", bad, "--qrel", root / "de" / "valid_qrel.tsv", exit_code=1,
                 names=("score must be a number", "'high'"))
    assert "rating must be" not in res.output


def test_split_keeps_one_row_per_user_and_item_so_nothing_leaks(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    lines = ["userId itemId rate date"]
    for u in range(12):  # each user rates A and B twice (the second time later), and C, D, E once
        lines += [f"u{u} A 3 2020-01-01", f"u{u} B 4 2020-01-02", f"u{u} C 2 2020-01-03", f"u{u} D 5 2020-01-04",
                  f"u{u} A 5 2020-01-05", f"u{u} B 1 2020-01-06", f"u{u} E 4 2020-01-07"]
    with gzip.open(src / "jp_5core.txt.gz", "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    m = split_markets(src, negatives=3, seed=0)["jp"]
    train = set(zip(m.train["userId"], m.train["itemId"], strict=True))
    for run in ("valid", "test"):
        held = set(zip(m.qrels[run]["userId"], m.qrels[run]["itemId"], strict=True))
        assert not held & train, f"{run} positives also in training"
    same = pd.merge(m.qrels["valid"], m.qrels["test"], on="userId")
    assert not (same["itemId_x"] == same["itemId_y"]).any()
    assert set(m.qrels["test"]["itemId"]) == {"E"} and set(m.qrels["valid"]["itemId"]) == {"B"}  # the latest rows
    kept = deduplicate(pd.DataFrame({"userId": ["u", "u", "u"], "itemId": ["A", "A", "B"], "rating": [1.0, 5.0, 2.0],
                                     "date": ["2020-01-02", "2020-01-02", "2020-01-01"]}))
    assert kept.to_dict("list") == {"userId": ["u", "u"], "itemId": ["A", "B"], "rating": [5.0, 2.0],
                                    "date": ["2020-01-02", "2020-01-01"]}  # same date: the later row in the file


def test_a_header_only_source_is_refused_not_written(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "xx_5core.txt").write_text("userId itemId rate date\n")
    invoke("xmarket", "split", src, "--out", tmp_path / "out", exit_code=1, names=("no ratings", "xx_5core.txt"))
    assert not (tmp_path / "out").exists()


def test_a_model_of_another_market_is_an_error_and_cold_start_a_warning(layout, tmp_path):
    root, model, _ = layout
    out = tmp_path / "s.tsv"
    invoke("xmarket", "predict", "--model-dir", model, "--run", root / "jp" / "valid_run.tsv", "--out", out,
           exit_code=1, names=("knows none of the run's", "fitted for market 'de'"))
    assert not out.exists()
    run = pd.read_csv(root / "de" / "valid_run.tsv", sep="\t", dtype=str)
    run.loc[0, "userId"] = "someone-new"
    (tmp_path / "de").mkdir()
    run.to_csv(tmp_path / "de" / "valid_run.tsv", sep="\t", index=False)
    res = invoke("xmarket", "predict", "--model-dir", model, "--run", tmp_path / "de" / "valid_run.tsv", "--out",
                 out, exit_code=0, names=("cold start", f"knows {len(run) - 1:,} of the run's {len(run):,} users"))
    assert res.output.count("cold start") == 1 and out.exists()


@pytest.mark.parametrize("model", ["itemknn", "rerank"])
def test_a_truncated_model_file_is_named_and_lightgbm_never_sees_it(layout, tmp_path, model):
    root, _, _ = layout
    folder = tmp_path / model
    invoke("xmarket", "fit", root, "--target", "fr", "--model", model, "--model-dir", folder, exit_code=0)
    target = folder / ("booster.txt" if model == "rerank" else "arrays.npz")
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    invoke("xmarket", "predict", "--model-dir", folder, "--run", root / "fr" / "valid_run.tsv", "--out",
           tmp_path / "s.tsv", exit_code=1, names=(target.name, "damaged"))


def test_a_truncated_predictor_booster_is_named(tiny_dir, tmp_path):
    cfg = tmp_path / "fast.yaml"
    cfg.write_text("encoders: {text: {name: char-hash}, image: {name: image-hash}}\noptions: {n_estimators: 10}\n")
    invoke("fit", tiny_dir, "--config", cfg, "--out", tmp_path / "m", exit_code=0)
    booster = next(Path(tmp_path / "m").rglob("booster.txt"))
    booster.write_bytes(booster.read_bytes()[:100])
    res = invoke("predict", tiny_dir, "--model-dir", tmp_path / "m", "--out", tmp_path / "s.csv", exit_code=1,
                 names=("booster.txt", "damaged"))
    assert "[LightGBM]" not in res.output and not (tmp_path / "s.csv").exists()


def test_evaluate_without_labels_is_refused_before_any_work(tiny_dir, tmp_path):
    import shutil

    cfg = tmp_path / "fast.yaml"
    cfg.write_text("encoders: {text: {name: char-hash}, image: {name: image-hash}}\noptions: {n_estimators: 10}\n")
    invoke("fit", tiny_dir, "--config", cfg, "--out", tmp_path / "m", exit_code=0)
    unlabelled = tmp_path / "new"
    shutil.copytree(tiny_dir, unlabelled)
    events = pd.read_parquet(unlabelled / "events.parquet").drop(columns=["purchased"])
    events.to_parquet(unlabelled / "events.parquet", index=False)
    invoke("predict", unlabelled, "--model-dir", tmp_path / "m", "--out", tmp_path / "s.csv", "--evaluate",
           exit_code=2, names=("needs labels",))
    assert not (tmp_path / "s.csv").exists()
