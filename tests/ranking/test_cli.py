"""xmarket split -> fit -> predict -> score from the command line, and its bad inputs."""

from __future__ import annotations

import json

from tests.helpers import invoke


def test_split_fit_predict_score(rating_dir, tmp_path):
    root = tmp_path / "root"
    invoke("xmarket", "split", rating_dir, "--out", root, "--negatives", "20", exit_code=0, names=("de:",))
    invoke("xmarket", "fit", root, "--target", "de", "--sources", "fr,uk", "--model", "itemknn", "--model-dir",
           tmp_path / "m", exit_code=0)
    invoke("xmarket", "predict", "--model-dir", tmp_path / "m", "--run", root / "de" / "valid_run.tsv", "--out",
           tmp_path / "s.tsv", exit_code=0)
    res = invoke("xmarket", "score", "--scores", tmp_path / "s.tsv", "--qrel", root / "de" / "valid_qrel.tsv",
                 exit_code=0)
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(result) == {"ndcg@10", "hr@10", "mrr", "users", "chance_ndcg@10"} and result["users"] == 40
    assert result["chance_ndcg@10"] < result["ndcg@10"] and "a random order of the same lists" in res.stdout
    invoke("xmarket", "fit", root, "--target", "de", "--sources", "culture", "--model", "popularity", "--model-dir",
           tmp_path / "c", exit_code=0)
    invoke("xmarket", "fit", root, "--target", "fr", "--model", "ease", "--model-dir", tmp_path / "e", exit_code=0)
    info = json.loads((tmp_path / "e" / "ranker.json").read_text())
    assert info["kind"] == "ranker:ease" and info["config"]["l2"] in (50.0, 200.0, 1000.0)  # chosen on the valid run
    assert info["state"] == {"target": "fr", "sources": {}}
    invoke("xmarket", "fit", root, "--target", "de", "--sources", "fr", "--model", "rerank", "--set", "trees=7",
           "--set", "labelled_lists=[fr]", "--model-dir", tmp_path / "r", exit_code=0)
    info = json.loads((tmp_path / "r" / "ranker.json").read_text())
    assert info["config"]["trees"] == 7 and info["config"]["labelled_lists"] == ["fr"]


def test_bad_inputs(rating_dir, tmp_path):
    root = tmp_path / "root"
    invoke("xmarket", "split", rating_dir, "--out", root, exit_code=0)
    invoke("xmarket", "fit", root, "--target", "xx", "--model-dir", tmp_path / "m", exit_code=1, names=("'xx'",))
    invoke("xmarket", "fit", root, "--target", "de", "--sources", "zz", "--model-dir", tmp_path / "m", exit_code=2,
           names=("zz",))
    invoke("xmarket", "fit", root, "--target", "de", "--model", "bert", "--model-dir", tmp_path / "m", exit_code=2)
    invoke("xmarket", "fit", root, "--target", "de", "--model", "ease", "--set", "l3=5", "--model-dir", tmp_path / "m",
           exit_code=2, names=("l3",))
    invoke("xmarket", "fit", root, "--target", "de", "--model", "ease", "--set", "l2", "--model-dir", tmp_path / "m",
           exit_code=2, names=("key.subkey=value",))
    assert not (tmp_path / "m").exists()
    invoke("xmarket", "split", tmp_path / "nowhere", "--out", tmp_path / "r2", exit_code=1, names=("does not exist",))
    invoke("xmarket", "predict", "--model-dir", tmp_path / "none", "--run", root / "de" / "valid_run.tsv", "--out",
           tmp_path / "s.tsv", exit_code=1, names=("does not exist",))


def test_fit_help_shows_the_set_example_with_its_brackets():
    import re

    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", invoke("xmarket", "fit", "--help", exit_code=0).output).split())
    assert "--set labelled_lists=[s1,s2]" in text  # not eaten as console markup


def test_own_labels_fit_scores_the_valid_run_out_of_fold_and_refuses_it_afterwards(rating_dir, tmp_path):
    import pandas as pd

    root = tmp_path / "root"
    invoke("xmarket", "split", rating_dir, "--out", root, "--negatives", "20", exit_code=0)
    res = invoke("xmarket", "fit", root, "--target", "de", "--sources", "fr", "--own-labels", "--folds", "3",
                 "--set", "trees=20", "--set", "factors=8", "--oof-out", tmp_path / "oof.tsv", "--model-dir",
                 tmp_path / "m", exit_code=0, names=("out of fold (3 folds",))
    result = json.loads(res.stdout.strip().splitlines()[-1])
    assert result["folds"] == 3 and result["users"] == 40 and 0.1 < result["hr@10"] <= 1
    oof = pd.read_csv(tmp_path / "oof.tsv", sep="\t", dtype={"userId": str, "itemId": str})
    assert list(oof.columns) == ["userId", "itemId", "score"] and len(oof) == 40 * 21
    # the file's figure is the printed one: xmarket score of the out-of-fold scores
    scored = invoke("xmarket", "score", "--scores", tmp_path / "oof.tsv", "--qrel", root / "de" / "valid_qrel.tsv",
                    exit_code=0)
    assert json.loads(scored.stdout.strip().splitlines()[-1])["ndcg@10"] == result["ndcg@10"]
    # the model learned the valid run's labels: scoring that run again would be in-sample
    invoke("xmarket", "predict", "--model-dir", tmp_path / "m", "--run", root / "de" / "valid_run.tsv", "--out",
           tmp_path / "v.tsv", exit_code=2, names=("in-sample",))
    assert not (tmp_path / "v.tsv").exists()
    invoke("xmarket", "predict", "--model-dir", tmp_path / "m", "--run", root / "de" / "test_run.tsv", "--out",
           tmp_path / "t.tsv", exit_code=0)


def test_own_labels_usage_errors(rating_dir, tmp_path):
    root = tmp_path / "root"
    invoke("xmarket", "split", rating_dir, "--out", root, "--negatives", "20", exit_code=0)
    invoke("xmarket", "fit", root, "--target", "de", "--model", "ease", "--own-labels", "--model-dir", tmp_path / "m",
           exit_code=2, names=("--model rerank",))
    invoke("xmarket", "fit", root, "--target", "de", "--oof-out", tmp_path / "o.tsv", "--model-dir", tmp_path / "m",
           exit_code=2, names=("--own-labels",))
    invoke("xmarket", "fit", root, "--target", "de", "--own-labels", "--folds", "1", "--model-dir", tmp_path / "m",
           exit_code=2, names=("at least 2",))
    qrel = root / "de" / "valid_qrel.tsv"
    lines = qrel.read_text().splitlines()
    qrel.write_text("\n".join([*lines, lines[1]]) + "\n")  # one user twice: found before any fitting
    invoke("xmarket", "fit", root, "--target", "de", "--own-labels", "--model-dir", tmp_path / "m", exit_code=1,
           names=("valid_qrel.tsv", "more than once"))
    (root / "de" / "valid_run.tsv").unlink()
    invoke("xmarket", "fit", root, "--target", "de", "--own-labels", "--model-dir", tmp_path / "m", exit_code=1,
           names=("valid_run.tsv",))
    assert not (tmp_path / "m").exists() and not (tmp_path / "o.tsv").exists()
